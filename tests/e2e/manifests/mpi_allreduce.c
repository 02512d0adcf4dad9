/* An MPI allreduce across the ranks of an MPIJob (tests/e2e/test_mpijob.py):
 * each rank contributes rank + 1; every rank checks the sum n(n+1)/2 and
 * rank 0 prints it with the world size and the hosts it ran on. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	char host[MPI_MAX_PROCESSOR_NAME], all[16][MPI_MAX_PROCESSOR_NAME];
	int rank, size, len, mine, sum = 0;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	memset(host, 0, sizeof(host));
	MPI_Get_processor_name(host, &len);
	mine = rank + 1;
	MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (size <= 16)
		MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME,
			   MPI_CHAR, 0, MPI_COMM_WORLD);
	if (sum != size * (size + 1) / 2) {
		fprintf(stderr, "rank %d: allreduce sum %d, want %d\n", rank, sum, size * (size + 1) / 2);
		MPI_Abort(MPI_COMM_WORLD, 3);
	}
	if (rank == 0) {
		printf("allreduce size=%d sum=%d\n", size, sum);
		for (int i = 0; i < size && size <= 16; i++)
			printf("rank %d on %s\n", i, all[i]);
	}
	MPI_Finalize();
	return 0;
}
