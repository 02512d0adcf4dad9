/*
 * json_same.h - value equality of two JSON values for the codec harnesses
 * (fuzz_json.c, fuzz_yaml.c): numbers compare by value, since YAML turns an
 * integral float into an integer; strings byte for byte.
 */
#ifndef GT_FUZZ_JSON_SAME_H
#define GT_FUZZ_JSON_SAME_H

#include <stdbool.h>
#include <string.h>

#include "codec/json.h"

static bool same(const json_t *a, const json_t *b)
{
	json_t *x;
	size_t i;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		for (void *it = json_object_iter((json_t *)a); it;
		     it = json_object_iter_next((json_t *)a, it)) {
			x = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
			if (!x || !same(json_object_iter_value(it), x))
				return false;
		}
		return true;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		json_array_foreach(a, i, x)
			if (!same(x, json_array_get(b, i)))
				return false;
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
	default:
		return true;
	}
}

#endif
