// SPDX-License-Identifier: MIT
/* Buffer memory on the worker's NUMA node. */
#include <numa.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

int trf_mem_node_of_cpu(int cpu)
{
	if (numa_available() < 0)
		return -1;
	return numa_node_of_cpu(cpu);
}

void *trf_mem_alloc(size_t size, int node)
{
	void *p;

	if (node >= 0) {
		p = numa_alloc_onnode(size, node);
		if (p) {
			/* Fault the pages in now, from the pinned worker, on its node. */
			memset(p, 0, size);
			return p;
		}
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
		 0);
	return p == MAP_FAILED ? NULL : p;
}

void trf_mem_free(void *p, size_t size, int node)
{
	if (!p)
		return;
	/* numa_alloc_onnode memory is an mmap too; numa_free is munmap. */
	(void)node;
	munmap(p, size);
}
