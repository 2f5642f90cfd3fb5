import Glibc
import Testing
@testable import XDPControl

/// SystemFiles replaced Foundation's file reading in XDPControl: it must read
/// what Foundation read (procfs files of size 0, directories, links).
@Suite("System files without Foundation")
struct SystemFilesTests {
    @Test("a procfs file reports size 0 and is still read to its end; values come trimmed")
    func procfs() throws {
        let text = try #require(SystemFiles.contents("/proc/self/status"))
        #expect(text.hasPrefix("Name:") && text.contains("\nPid:\t\(getpid())\n"))
        #expect(text.utf8.count > 4096 || text.hasSuffix("\n"), "read to the end, not one buffer")
        let path = "/tmp/swift-xdp-systemfiles-\(getpid())"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(fd >= 0)
        let bytes = Array(" \t42\n\n".utf8)
        #expect(write(fd, bytes, bytes.count) == bytes.count)
        close(fd)
        #expect(SystemFiles.value(path) == "42")
        #expect(SystemFiles.trimmed(" \n ") == "")
        #expect(SystemFiles.value("/nonexistent/swift-xdp") == nil)
    }

    @Test("directory entries without . and .., and a link's target")
    func directoriesAndLinks() throws {
        let entries = try #require(SystemFiles.entries("/proc/self/fd"))
        #expect(entries.contains("0") && !entries.contains(".") && !entries.contains(".."))
        #expect(SystemFiles.entries("/nonexistent/swift-xdp") == nil)
        #expect(SystemFiles.linkTarget("/proc/self") == String(getpid()))
        #expect(SystemFiles.linkTarget("/proc/self/status") == nil, "not a link")
    }
}
