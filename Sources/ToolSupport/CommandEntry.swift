import ArgumentParser

/// The entry point the package's tools share: ArgumentParser's, except that
/// an error thrown while a subcommand runs is reported with that
/// subcommand's usage (a `ValidationError` found after parsing), not the
/// root command's.
public enum CommandEntry {
    /// Parses the command line as `root`, runs the subcommand, and exits.
    /// - Parameters:
    ///   - root: The tool's root command.
    ///   - handle: Called first with an error the subcommand threw; it may
    ///     exit the process in its own way (e.g. with a status of its own).
    public static func run<Root: ParsableCommand>(_ root: Root.Type, handle: (Error) -> Void = { _ in }) {
        var command: ParsableCommand
        do {
            command = try root.parseAsRoot()
        } catch {
            root.exit(withError: error)
        }
        do {
            try command.run()
        } catch {
            handle(error)
            type(of: command).exit(withError: error)
        }
    }
}
