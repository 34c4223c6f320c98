internal import CMPI
internal import CMPIShim
import NHGDLinearAlgebra

/// The MPI library's lifetime in this process: `MPI_Init` once, `MPI_Finalize` once before a
/// normal exit, `MPI_Abort` to take every rank down when one cannot go on.
///
/// Communicators handed out set `MPI_ERRORS_RETURN`, so a failing call becomes a thrown
/// ``LinearAlgebraError/communication(operation:message:)`` rather than a silent abort; a rank
/// that dies is detected by `mpirun`, which then stops the others (no rank waits forever).
public enum MPIEnvironment {
    /// Initialises MPI if it is not yet (idempotent) and returns `MPI_COMM_WORLD`.
    /// - Throws: `communication` if `MPI_Init` fails.
    public static func world() throws(LinearAlgebraError) -> MPICommunicator {
        var initialized: Int32 = 0
        try check(MPI_Initialized(&initialized), "MPI_Initialized")
        if initialized == 0 { try check(MPI_Init(nil, nil), "MPI_Init") }
        let world = nhgd_mpi_comm_world()
        try check(MPI_Comm_set_errhandler(world, nhgd_mpi_errors_return()), "MPI_Comm_set_errhandler")
        return try MPICommunicator(handle: world)
    }

    /// `MPI_Finalize`, if MPI was initialised and not yet finalised. Call it on every rank
    /// before a normal exit (Open MPI reports ranks that exit without it as failures).
    public static func finalize() {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        if initialized != 0, finalized == 0 { MPI_Finalize() }
    }

    /// Stops every rank of `MPI_COMM_WORLD` with `status` (`MPI_Abort`): for a rank that failed
    /// alone, while the others may be waiting in a collective.
    public static func abort(status: Int32) -> Never {
        MPI_Abort(nhgd_mpi_comm_world(), status)
        fatalError("MPI_Abort returned")
    }

    /// Maps an MPI return code to a typed error naming the call and MPI's message.
    static func check(_ code: Int32, _ call: String) throws(LinearAlgebraError) {
        guard code != nhgd_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(nhgd_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        let message = String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw .communication(operation: call, message: "MPI error \(code): \(message)")
    }
}
