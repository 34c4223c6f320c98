#ifndef NHGD_CMPISHIM_H
#define NHGD_CMPISHIM_H
#include <mpi.h>

// Open MPI defines its predefined handles as macros over casts of global objects
// (`#define MPI_COMM_WORLD OMPI_PREDEFINED_GLOBAL(MPI_Comm, ompi_mpi_comm_world)`), which Swift
// cannot import; these functions return them.
MPI_Comm nhgd_mpi_comm_world(void);
MPI_Datatype nhgd_mpi_double(void);
MPI_Op nhgd_mpi_sum(void);
MPI_Errhandler nhgd_mpi_errors_return(void);
int nhgd_mpi_success(void);
int nhgd_mpi_max_error_string(void);

#endif
