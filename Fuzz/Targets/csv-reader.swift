// libFuzzer target: the CSV reader behind `nhgd --data` (Dataset.parseCSV, CSVParser).
//
// Input: byte 0 chooses the label column and the size of the pieces the bytes are fed in; the
// rest is the file. Properties checked on every input (a violation is a crash the fuzzer
// reports): the reader does not trap; where the bytes are cut changes nothing (the same data
// set, bit for bit, or the same error); an error is one line; a data set is consistent
// (every feature finite, labels within the classes).
import Foundation
@testable import NHGDExperiments

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCSVReader(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let control = bytes[0]
    let file = Data(bytes[1...])
    let labelLast = control & 1 == 0
    let pieces = 1 + Int(control >> 1) % 13

    func outcome(_ chunk: Int) -> String {
        do {
            let data = try Dataset.parseCSV(file, file: "fuzz.csv", labelInLastColumn: labelLast, chunkBytes: chunk)
            precondition(data.features.firstNonFiniteIndex == nil, "a non-finite feature was accepted")
            precondition(data.labels.allSatisfy { (0..<data.classCount).contains($0) }, "a label outside the classes")
            precondition(data.labelNames.count == data.classCount, "label names do not match the classes")
            return "\(data.features.rows)x\(data.features.columns) \(data.features.storage.map(\.bitPattern)) \(data.labels) \(data.labelNames)"
        } catch let DataError.file(_, reason) {
            precondition(!reason.contains("\n") && !reason.contains("\r"), "an error of more than one line: \(reason.debugDescription)")
            return "error: " + reason
        } catch {
            preconditionFailure("an error of the wrong type: \(error)")
        }
    }
    let whole = outcome(Dataset.csvChunkBytes)
    let cut = outcome(pieces)
    precondition(cut == whole, "pieces of \(pieces) bytes give \(cut), the whole file \(whole)")
    return 0
}
