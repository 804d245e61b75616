/* tests/unikernel/uk-memory.c - allocate until malloc says ENOMEM, in
 * blocks that halve each time a size no longer fits, write every byte
 * (the pages must really be there), then print how much was had against
 * the domain's memory. Ends with status 0 only when malloc failed with
 * ENOMEM and nothing else happened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unikernel/uk.h"

int main(void)
{
	size_t size = 1u << 20, got = 0, blocks = 0, total = uk_mem_total();
	int err = 0;

	while (size >= 64) {
		void *p = malloc(size);

		if (p == NULL) {
			err = errno;
			if (err != ENOMEM)
				break;
			size /= 2;
			continue;
		}
		memset(p, 0xa5, size);
		got += size;
		blocks++;
	}
	printf("uk-memory: %zu bytes in %zu blocks of %zu bytes of memory "
	       "(%zu%%), then %s\n",
	       got, blocks, total, got * 100 / total,
	       err == ENOMEM ? "ENOMEM" : strerror(err));
	return err == ENOMEM ? 0 : 1;
}
