/*
 * fuzz_yaml.c - libFuzzer harness for gt_yaml_to_json, and through it the
 * YAML emitter: every document that parses must print as YAML that reads
 * back as the same value (numbers compared by value, since YAML turns an
 * integral float into an integer).  tests/fuzz/replay.c
 * turns it into a plain program that replays corpus/<name>/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json.h"
#include "codec/yaml.h"
#include "json_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gt_err err;
	json_t *docs = NULL, *v;
	size_t i;

	if (gt_yaml_to_json((const char *)data, size, &docs, &err) < 0)
		return 0;
	json_array_foreach(docs, i, v) {
		struct gt_buf b = GT_BUF_INIT;
		json_t *back = NULL;

		if (gt_yaml_from_json(v, &b) < 0)
			abort();
		if (gt_yaml_to_json(b.data, b.len, &back, &err) < 0) {
			fprintf(stderr, "YAML output does not parse: %s\n%s\n", err.msg, b.data);
			abort();
		}
		if (!same(v, json_array_get(back, 0))) {
			fprintf(stderr, "YAML round trip changed the value:\n%s\n", b.data);
			abort();
		}
		json_decref(back);
		gt_buf_release(&b);
	}
	json_decref(docs);
	return 0;
}
