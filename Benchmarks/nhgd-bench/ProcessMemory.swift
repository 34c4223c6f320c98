import Foundation

/// Resident set size of this process, from `VmRSS` in /proc/self/status (0 where unavailable).
func residentBytes() -> Int { processStatusBytes("VmRSS") }

/// Peak resident set of this process, from `VmHWM` in /proc/self/status (0 where unavailable).
func peakResidentBytes() -> Int { processStatusBytes("VmHWM") }

/// A `kB` field of /proc/self/status, in bytes (0 where the file or the field is missing).
///
/// The kernel writes the number right-aligned in 8 columns after a tab (`VmRSS:\t  123456 kB`),
/// so from 10⁷ kB (≈ 10 GB) up it follows the tab directly (`VmRSS:\t12345678 kB`): fields
/// are split on spaces and tabs, not on spaces alone.
func processStatusBytes(_ field: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if fields.count >= 2, let kib = Int(fields[1]) { return kib * 1024 }
    }
    return 0
}
