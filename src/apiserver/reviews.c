/*
 * reviews.c - create-only "review" resources that are answered, never
 * stored: SelfSubjectAccessReview (kubectl auth can-i),
 * SelfSubjectRulesReview (can-i --list) and SelfSubjectReview (auth whoami).
 */
#include <string.h>

#include "apiserver/internal.h"

static json_t *user_info(const struct gt_user *u)
{
	json_t *groups = json_array();

	for (size_t i = 0; i < GT_ARRAY_SIZE(u->groups) && u->groups[i]; i++)
		json_array_append_new(groups, json_string(u->groups[i]));
	return json_pack("{s:s,s:o}", "username", u->name, "groups", groups);
}

void gt_handle_review(struct gt_api *api, struct gt_http_req *req, struct route *rt)
{
	const char *kind = rt->res->kind;
	struct gt_user user;
	struct gt_err err;
	json_t *body = NULL, *resp;

	gt_err_clear(&err);
	gt_authenticate(api, req, &user);
	if (gt_request_body(req, &body, &err) < 0) {
		gt_reply_error(req, &err, rt);
		return;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		gt_reply_errorf(req, -EINVAL, "the request body must be a JSON object");
		return;
	}
	resp = json_deep_copy(body);
	json_decref(body);
	{
		char av[160];

		gt_resource_api_version(rt->res, av, sizeof(av));
		json_object_set_new(resp, "apiVersion", json_string(av));
		json_object_set_new(resp, "kind", json_string(kind));
		if (!json_is_object(json_object_get(resp, "metadata")))
			json_object_set_new(resp, "metadata", json_object());
		json_object_del(json_object_get(resp, "metadata"), "creationTimestamp");
	}
	if (!strcmp(kind, "SelfSubjectAccessReview")) {
		json_t *ra = gt_json_path(resp, "spec.resourceAttributes");
		json_t *nra = gt_json_path(resp, "spec.nonResourceAttributes");
		bool ok;

		if (!ra && !nra) {
			json_decref(resp);
			gt_reply_errorf(req, -EBADMSG,
					"SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified");
			return;
		}
		ok = gt_authorize(&user, gt_json_str(ra ? ra : nra, "verb") ?: "",
				  gt_json_str(ra, "group") ?: "", gt_json_str(ra, "resource") ?: "",
				  gt_json_str(ra, "subresource") ?: "", gt_json_str(ra, "namespace") ?: "",
				  gt_json_str(ra, "name") ?: "");
		json_object_set_new(resp, "status", json_pack("{s:b,s:s}", "allowed", ok, "reason",
							     ok ? "the admin identity may do everything" :
								  "no rule allows it"));
	} else if (!strcmp(kind, "SelfSubjectRulesReview")) {
		bool admin = gt_authorize(&user, "*", "*", "*", "", "", "");

		json_object_set_new(resp, "status", json_pack(
			"{s:o,s:o,s:b}", "resourceRules",
			admin ? json_pack("[{s:[s],s:[s],s:[s]}]", "verbs", "*", "apiGroups", "*",
					  "resources", "*") : json_array(),
			"nonResourceRules",
			admin ? json_pack("[{s:[s],s:[s]}]", "verbs", "*", "nonResourceURLs", "*") :
				json_array(),
			"incomplete", false));
	} else {
		json_object_set_new(resp, "status", json_pack("{s:o}", "userInfo", user_info(&user)));
	}
	gt_reply_json(req, 201, resp);
	json_decref(resp);
}
