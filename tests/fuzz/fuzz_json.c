/*
 * fuzz_json.c - libFuzzer harness for gt_json_parse, and through it the
 * YAML emitter: every JSON value that parses must print as YAML that reads
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
	struct gt_buf b = GT_BUF_INIT;
	struct gt_err err;
	json_t *v = NULL, *docs = NULL;

	if (gt_json_parse((const char *)data, size, &v, &err) < 0)
		return 0;
	if (gt_yaml_from_json(v, &b) == 0) {
		if (gt_yaml_to_json(b.data, b.len, &docs, &err) < 0) {
			if (!strstr(err.msg, "nesting deeper") && !strstr(err.msg, "more than")) {
				fprintf(stderr, "YAML output does not parse: %s\n%s\n", err.msg, b.data);
				abort();
			}
		} else if (!json_is_null(v) && !same(v, json_array_get(docs, 0))) {
			fprintf(stderr, "YAML round trip changed the value:\n%s\n", b.data);
			abort();
		}
	}
	json_decref(docs);
	gt_buf_release(&b);
	json_decref(v);
	return 0;
}
