/*
 * auth.c - authentication (the admin bearer token) and authorization.
 *
 * Authorization is its own step so RBAC can replace gt_authorize() later;
 * today the admin identity may do everything.
 */
#include <string.h>
#include <strings.h>

#include "apiserver/internal.h"

int gt_authenticate(struct gt_api *api, struct gt_http_req *req, struct gt_user *user)
{
	const char *h = gt_http_header(req, "Authorization");

	memset(user, 0, sizeof(*user));
	if (!h || strncasecmp(h, "Bearer ", 7))
		return -ENOKEY;
	h += 7;
	while (*h == ' ')
		h++;
	if (!api->token || !gt_secret_eq(h, api->token))
		return -ENOKEY;
	user->name = "admin";
	user->groups[0] = "system:masters";
	user->groups[1] = "system:authenticated";
	return 0;
}

bool gt_authorize(const struct gt_user *user, const char *verb, const char *group,
		  const char *resource, const char *sub, const char *ns, const char *name)
{
	(void)verb;
	(void)group;
	(void)resource;
	(void)sub;
	(void)ns;
	(void)name;
	for (size_t i = 0; i < GT_ARRAY_SIZE(user->groups) && user->groups[i]; i++)
		if (!strcmp(user->groups[i], "system:masters"))
			return true;
	return false;
}
