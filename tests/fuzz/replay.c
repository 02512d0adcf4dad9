/*
 * replay.c - a main() for the libFuzzer harnesses so `make test` can replay
 * their seed corpora without clang's fuzzer runtime: each argument is a file
 * fed once to LLVMFuzzerTestOneInput.  A crash fails the test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf;
		long n;

		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(n > 0 ? (size_t)n : 1);
		if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			fclose(f);
			free(buf);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n > 0 ? (size_t)n : 0);
		free(buf);
	}
	return 0;
}
