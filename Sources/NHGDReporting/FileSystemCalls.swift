import Foundation

/// The POSIX calls ``OutputDirectory`` and ``AtomicFile`` are made of, each returning the
/// `errno` of a failure instead of trapping or throwing an NSError, so that every error path
/// can clean up and say which call failed. Callers of those types see ``OutputError``; only
/// ``writeAll(_:to:)`` is public (the tool's standard streams write with it too).
public enum FileSystemCalls {
    /// `strerror(code)`: "No space left on device".
    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// What `lstat(2)` (`followingLinks: false`) or `stat(2)` says about `path`.
    enum Entry: Equatable {
        case missing
        case directory(mode: mode_t, device: UInt64)
        case symbolicLink
        case other
        /// `stat` failed for another reason than `ENOENT` (`ENOTDIR`, `EACCES`, `ELOOP`, …).
        case unreadable(code: Int32)
    }

    static func entry(_ path: String, followingLinks: Bool) -> Entry {
        var info = stat()
        let result = followingLinks ? stat(path, &info) : lstat(path, &info)
        if result != 0 { return errno == ENOENT ? .missing : .unreadable(code: errno) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory(mode: info.st_mode & 0o7777, device: UInt64(info.st_dev))
        case S_IFLNK: return .symbolicLink
        default: return .other
        }
    }

    /// The target of the symbolic link at `path`, as stored in the link.
    static func linkTarget(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return "?" }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `realpath(3)`: the absolute path of an existing `path` without symbolic links, `.` or `..`.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// A name for a temporary entry in a directory: hidden, naming what it is for, unique per
    /// process and call (`.results.tmp-4711-9c0e3a1f`).
    static func temporaryName(for name: String, kind: String) -> String {
        ".\(name).\(kind)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Creates and removes a directory inside `directory`: the one test that answers whether
    /// entries can be created there (permission bits, read-only mounts, `/proc`, root's
    /// capabilities and ACLs all included). Returns the `errno` of `mkdir` on failure.
    static func probeCreation(in directory: String) -> Int32? {
        let probe = directory + "/" + temporaryName(for: "nhgd", kind: "probe")
        guard mkdir(probe, 0o700) == 0 else { return errno }
        rmdir(probe)
        return nil
    }

    /// Writes `bytes` to a new file `path` (which must not exist: `O_EXCL`) with mode
    /// 0666 & ~umask, and flushes it to disk with `fsync` before closing. On failure the
    /// partial file is removed and the `errno` returned.
    static func writeNewFile(_ bytes: [UInt8], at path: String) -> Int32? {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { return errno }
        var failure: Int32? = bytes.withUnsafeBufferPointer { writeAll($0, to: descriptor) }
        if failure == nil, fsync(descriptor) != 0 { failure = errno }
        if close(descriptor) != 0, failure == nil { failure = errno }
        if failure != nil { unlink(path) }
        return failure
    }

    /// Writes every byte to `descriptor` with `write(2)`, or returns the `errno` of the write
    /// that failed (`ENOSPC`, `EPIPE`, `EBADF`, …). Interrupted (`EINTR`) and partial writes
    /// are retried, and a non-blocking descriptor that is full (`EAGAIN`) is waited on with
    /// `poll`.
    public static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>, to descriptor: Int32) -> Int32? {
        guard var next = UnsafeRawPointer(bytes.baseAddress) else { return nil }
        var remaining = bytes.count
        while remaining > 0 {
            let written = write(descriptor, next, remaining)
            if written > 0 {
                next += written
                remaining -= written
                continue
            }
            let code = written == 0 ? EIO : errno
            switch code {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&ready, 1, -1)
            default:
                return code
            }
        }
        return nil
    }

    /// Flushes the entries of a directory (names created, renamed or removed in it) to disk.
    static func syncDirectory(_ path: String) -> Int32? {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return errno }
        defer { close(descriptor) }
        return fsync(descriptor) == 0 ? nil : errno
    }

    /// The names in a directory, without `.` and `..`; `nil` if it cannot be read.
    static func names(in directory: String) -> [String]? {
        guard let stream = opendir(directory) else { return nil }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// `renameat2(RENAME_EXCHANGE)`: swaps two existing paths atomically (Linux 3.15+; ext4,
    /// XFS, Btrfs, tmpfs, overlayfs). Glibc declares it only for `_GNU_SOURCE`, which Swift's
    /// Glibc module does not define, so it is looked up at run time; `nil` when the C library
    /// lacks it. Returns `nil` on success, else the `errno` (`EINVAL` or `ENOSYS` when the
    /// file system or kernel cannot exchange).
    static func exchange(_ first: String, _ second: String) -> Int32? {
        guard let renameat2 = renameat2 else { return ENOSYS }
        let renameExchange: UInt32 = 1 << 1  // RENAME_EXCHANGE in <linux/fs.h> and <stdio.h>
        return renameat2(AT_FDCWD, first, AT_FDCWD, second, renameExchange) == 0 ? nil : errno
    }

    private typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    private static let renameat2: RenameAt2? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return nil }  // RTLD_DEFAULT
        return unsafeBitCast(symbol, to: RenameAt2.self)
    }()

    /// `rename(2)`, `nil` on success.
    static func rename(_ from: String, _ to: String) -> Int32? {
        Foundation.rename(from, to) == 0 ? nil : errno
    }
}
