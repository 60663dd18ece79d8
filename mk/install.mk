# make install (included by the Makefile): the C library, shared and static, with its header,
# pkg-config files and CMake package, and the `factorconv` tool with its man page and shell
# completions, all under $(DESTDIR)$(PREFIX). The libraries and the tool are installed without
# debug information (it stays in the build directories).
#   make install PREFIX=/usr/local DESTDIR=/tmp/stage LIBDIR=... INCLUDEDIR=... BINDIR=...

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man

LIB_REALNAME = libfactorconv.so.$(VERSION)
PKGCONFIG_DIR = $(LIBDIR)/pkgconfig
CMAKE_DIR = $(LIBDIR)/cmake/factorconv
MANPAGE = $(CLI_BUILD)/factorconv.1
# The path from $(1) to $(2) (both as installed, without DESTDIR), for files that must find
# the others relative to themselves.
relative = $(shell realpath -m --relative-to=$(1) $(2))
# The system libraries a program links with the static library (written beside it).
STATIC_LIBS = $(shell cat $(STATIC_LIB).libs)
empty :=
space := $(empty) $(empty)
# Fills in a template of packaging/c: @NAME@ placeholders.
FILL = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
	-e 's|@LIB_REALNAME@|$(LIB_REALNAME)|g' -e 's|@LIB_SONAME@|$(LIB_SONAME)|g' \
	-e 's|@PC_TO_LIBDIR@|$(call relative,$(PKGCONFIG_DIR),$(LIBDIR))|g' \
	-e 's|@PC_TO_INCLUDEDIR@|$(call relative,$(PKGCONFIG_DIR),$(INCLUDEDIR))|g' \
	-e 's|@CMAKE_TO_LIBDIR@|$(call relative,$(CMAKE_DIR),$(LIBDIR))|g' \
	-e 's|@CMAKE_TO_INCLUDEDIR@|$(call relative,$(CMAKE_DIR),$(INCLUDEDIR))|g' \
	-e 's|@STATIC_LIBS@|$(STATIC_LIBS)|g' -e 's|@STATIC_LIBS_CMAKE@|$(subst $(space),;,$(patsubst -l%,%,$(STATIC_LIBS)))|g'

.PHONY: install man

## man: the tool's man page, generated from its own command descriptions (CLI/manpage.py).
man: cli
	$(PYTHON) CLI/manpage.py $(CLI) > $(MANPAGE)

install: lib static-lib cli man
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIG_DIR) $(DESTDIR)$(CMAKE_DIR) \
	  $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/bash-completion/completions \
	  $(DESTDIR)$(DATADIR)/zsh/site-functions $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	install -m 644 include/factorconv.h $(DESTDIR)$(INCLUDEDIR)/factorconv.h
	install -m 755 $(LIB) $(DESTDIR)$(LIBDIR)/$(LIB_REALNAME)
	strip --strip-unneeded $(DESTDIR)$(LIBDIR)/$(LIB_REALNAME)
	ln -sf $(LIB_REALNAME) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libfactorconv.so
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/libfactorconv.a
	$(FILL) packaging/c/factorconv.pc.in > $(DESTDIR)$(PKGCONFIG_DIR)/factorconv.pc
	$(FILL) packaging/c/factorconv-static.pc.in > $(DESTDIR)$(PKGCONFIG_DIR)/factorconv-static.pc
	$(FILL) packaging/c/factorconvConfig.cmake.in > $(DESTDIR)$(CMAKE_DIR)/factorconvConfig.cmake
	$(FILL) packaging/c/factorconvConfigVersion.cmake.in > $(DESTDIR)$(CMAKE_DIR)/factorconvConfigVersion.cmake
	install -m 755 -s $(CLI) $(DESTDIR)$(BINDIR)/factorconv
	install -m 644 $(MANPAGE) $(DESTDIR)$(MANDIR)/man1/factorconv.1
	$(CLI) completion bash > $(DESTDIR)$(DATADIR)/bash-completion/completions/factorconv
	$(CLI) completion zsh > $(DESTDIR)$(DATADIR)/zsh/site-functions/_factorconv
	$(CLI) completion fish > $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/factorconv.fish
