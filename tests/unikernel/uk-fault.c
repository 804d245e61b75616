/* tests/unikernel/uk-fault.c - a unikernel that dereferences NULL: the
 * runtime must print its fault dump (vector 14, address 0) and end the
 * domain as crashed. Through two calls, so the backtrace has frames. */
#include <stdio.h>

static int __attribute__((noinline)) load(volatile int *p)
{
	return *p;
}

static int __attribute__((noinline)) deeper(volatile int *p)
{
	return load(p) + 1;
}

int main(int argc, char **argv)
{
	volatile int *null = NULL;

	(void)argv;
	printf("uk-fault: reading address 0 (argc %d)\n", argc);
	return deeper(null + (argc > 100));
}
