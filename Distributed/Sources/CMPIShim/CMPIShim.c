#include "CMPIShim.h"

MPI_Comm nhgd_mpi_comm_world(void) { return MPI_COMM_WORLD; }
MPI_Datatype nhgd_mpi_double(void) { return MPI_DOUBLE; }
MPI_Op nhgd_mpi_sum(void) { return MPI_SUM; }
MPI_Errhandler nhgd_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
int nhgd_mpi_success(void) { return MPI_SUCCESS; }
int nhgd_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
