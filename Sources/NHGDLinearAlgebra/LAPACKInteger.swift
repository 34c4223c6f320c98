/// The one checked boundary between Swift's `Int` and LAPACK/BLAS's 32-bit `lapack_int`.
///
/// Every call into CBLAS or LAPACKE converts its sizes here; a size that does not fit
/// becomes ``LinearAlgebraError/sizeOverflow(operation:value:)`` rather than a wrapped integer.
@inlinable
func lapackInt(_ value: Int, _ operation: @autoclosure () -> String) throws -> Int32 {
    guard let converted = Int32(exactly: value) else {
        throw LinearAlgebraError.sizeOverflow(operation: operation(), value: value)
    }
    return converted
}

/// Maps a LAPACK `info` code to a typed error. `info < 0` is an illegal argument (a bug);
/// the meaning of `info > 0` depends on the routine and is given by `positive`.
@inlinable
func checkInfo(
    _ info: Int32, routine: String,
    positive: (Int) -> LinearAlgebraError
) throws {
    if info < 0 { throw LinearAlgebraError.illegalArgument(routine: routine, position: Int(-info)) }
    if info > 0 { throw positive(Int(info)) }
}
