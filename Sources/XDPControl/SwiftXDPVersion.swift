/// The version of swift-xdp these libraries and tools belong to (printed by
/// every tool's `--version`).
public enum SwiftXDPVersion {
    /// Semantic version of the release, with "-dev" between releases.
    public static let string = "0.4.0-dev"
}
