import ArgumentParser

/// `factorconv completion SHELL`: prints the tool's completion script for bash, zsh or fish.
/// `make install` also installs the three scripts where each shell looks for them.
struct Completion: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the shell completion script for bash, zsh or fish.",
        discussion: """
            bash: source <(factorconv completion bash), or save it as \
            /usr/share/bash-completion/completions/factorconv. zsh: save it as _factorconv in a \
            directory of $fpath. fish: save it as ~/.config/fish/completions/factorconv.fish. \
            `make install` puts all three under PREFIX/share.
            """)

    /// A shell with a completion script.
    enum Shell: String, CaseIterable, ExpressibleByArgument {
        case bash, zsh, fish
    }

    @Argument(help: "bash, zsh or fish.")
    var shell: Shell

    func run() {
        let target: CompletionShell
        switch shell {
        case .bash: target = .bash
        case .zsh: target = .zsh
        case .fish: target = .fish
        }
        print(FactorConvTool.completionScript(for: target), terminator: "")
    }
}
