# The install paths, as users take them (included by the Makefile; `make test-install`, part of
# `make test`). Each test works in its own directory under $(INSTALL_WORK).
#   test-install-c       make install (DESTDIR, PREFIX) + a C program via pkg-config and CMake,
#                        shared and static
#   test-install-python  pip from the repository root, a git+file:// clone and an sdist, in
#                        fresh venvs; the wheel's tag and `auditwheel show`
#   test-install-swift   a separate Swift package that depends on this checkout by path
#   test-snippets        the code blocks of the READMEs and DocC articles
INSTALL_WORK := .build-install

.PHONY: print-version test-install test-install-c test-install-python test-install-swift test-snippets \
	install-prerequisites

## print-version: the version, FCONV_VERSION_STRING of include/factorconv.h.
print-version:
	@echo $(VERSION)

test-install: test-install-c test-install-python test-install-swift

test-install-c: install-prerequisites
	bash Tests/Install/test_c_install.sh $(INSTALL_WORK)/c

test-install-python: lib
	bash Tests/Install/test_python_install.sh $(INSTALL_WORK)/python

test-install-swift:
	bash Tests/Install/test_swift_package.sh $(INSTALL_WORK)/swift

# What `make install` builds, built before the test's own `make install` so that its log is short.
install-prerequisites: lib static-lib cli man

## test-snippets: every code block of README.md, bindings/*/README.md and the DocC articles runs
## (Tests/Snippets/run_snippets.py; the Swift and install blocks through the tests above).
test-snippets: lib cli
	$(PYTHON) Tests/Snippets/run_snippets.py $(LIB) $(CLI_BUILD)
