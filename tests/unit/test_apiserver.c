/*
 * Unit tests for src/apiserver/ops.c and src/controllers/gc.c through the
 * in-process client: server-owned metadata, generation, status subresource,
 * conflicts, finalizers, propagation policies and namespace deletion.
 */
#include <unistd.h>

#include "t.h"
#include "apitest.h"
#include "controllers/controllers.h"

static json_t *cm(const char *name)
{
	return json_pack("{s:{s:s},s:{s:s}}", "metadata", "name", name, "data", "k", "v");
}

static json_t *deploy(const char *name, const char *image)
{
	return json_pack("{s:{s:s},s:{s:{s:{s:s}},s:{s:{s:{s:s}},s:{s:[{s:s,s:s}]}}}}",
			 "metadata", "name", name, "spec", "selector", "matchLabels", "app", name,
			 "template", "metadata", "labels", "app", name, "spec", "containers", "name",
			 "c", "image", image);
}

TEST(create_sets_metadata_and_defaults)
{
	struct gt_obj *o = NULL;
	struct gt_err e;
	int64_t gen = 0;

	gt_err_clear(&e);
	CHECK_INT(gt_api_create(api, R("apps", "deployments"), "default", deploy("web", "nginx:1"), NULL, &o, &e), 0);
	CHECK(gt_json_str(o->obj, "metadata.uid") != NULL);
	CHECK(gt_json_str(o->obj, "metadata.creationTimestamp") != NULL);
	CHECK_STR(gt_json_str(o->obj, "kind"), "Deployment");
	CHECK_STR(gt_json_str(o->obj, "apiVersion"), "apps/v1");
	CHECK_INT(gt_json_int(o->obj, "metadata.generation", &gen), 0);
	CHECK_INT(gen, 1);
	CHECK_STR(gt_json_str(o->obj, "spec.strategy.type"), "RollingUpdate");
	gt_obj_unref(o);
	/* same name again */
	CHECK_INT(gt_api_create(api, R("apps", "deployments"), "default", deploy("web", "x"), NULL, &o, &e), -EEXIST);
	CHECK_STR(e.msg, "deployments.apps \"web\" already exists");
	/* missing namespace */
	gt_err_clear(&e);
	CHECK_INT(gt_api_create(api, R("", "configmaps"), "nope", cm("a"), NULL, &o, &e), -ENOENT);
	CHECK_STR(e.msg, "namespaces \"nope\" not found");
	/* generateName */
	{
		json_t *g = json_pack("{s:{s:s}}", "metadata", "generateName", "gen-");

		CHECK_INT(gt_api_create(api, R("", "configmaps"), "default", g, NULL, &o, &e), 0);
		CHECK(!strncmp(gt_json_str(o->obj, "metadata.name"), "gen-", 4));
		CHECK_INT(strlen(gt_json_str(o->obj, "metadata.name")), 9);
		gt_obj_unref(o);
	}
}

static int set_image(json_t *obj, void *ctx, struct gt_err *err)
{
	json_t *c = json_array_get(gt_json_path(obj, "spec.template.spec.containers"), 0);

	(void)err;
	json_object_set_new(c, "image", json_string(ctx));
	return 0;
}

static int set_label(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set_str(obj, "metadata.labels.x", ctx);
	return 0;
}

static int set_status(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	(void)ctx;
	gt_json_set(obj, "status.replicas", json_integer(7));
	gt_json_set(obj, "spec.replicas", json_integer(99)); /* ignored on /status */
	return 0;
}

TEST(generation_and_status_subresource)
{
	const struct gt_resource *d = R("apps", "deployments");
	struct gt_obj *o = NULL;
	struct gt_err e;
	int64_t v = 0;

	gt_err_clear(&e);
	CHECK_INT(gt_api_modify(api, d, "default", "web", GT_PART_MAIN, set_label, "1", NULL, &o, &e), 0);
	gt_json_int(o->obj, "metadata.generation", &v);
	CHECK_INT(v, 1); /* metadata-only change */
	gt_obj_unref(o);
	CHECK_INT(gt_api_modify(api, d, "default", "web", GT_PART_MAIN, set_image, "nginx:2", NULL, &o, &e), 0);
	gt_json_int(o->obj, "metadata.generation", &v);
	CHECK_INT(v, 2);
	gt_obj_unref(o);
	CHECK_INT(gt_api_modify(api, d, "default", "web", GT_PART_STATUS, set_status, NULL, NULL, &o, &e), 0);
	gt_json_int(o->obj, "status.replicas", &v);
	CHECK_INT(v, 7);
	gt_json_int(o->obj, "spec.replicas", &v);
	CHECK_INT(v, 1);
	gt_json_int(o->obj, "metadata.generation", &v);
	CHECK_INT(v, 2);
	gt_obj_unref(o);
	/* status written through the main resource is ignored */
	{
		json_t *nw = deploy("web", "nginx:2");

		gt_json_set(nw, "status.replicas", json_integer(1));
		CHECK_INT(gt_api_update(api, d, "default", "web", GT_PART_MAIN, nw, NULL, &o, &e), 0);
		gt_json_int(o->obj, "status.replicas", &v);
		CHECK_INT(v, 7);
		gt_obj_unref(o);
	}
}

TEST(update_conflict_and_noop)
{
	const struct gt_resource *c = R("", "configmaps");
	struct gt_obj *o = NULL, *o2 = NULL;
	struct gt_err e;
	json_t *stale;

	gt_err_clear(&e);
	CHECK_INT(gt_api_create(api, c, "default", cm("cc"), NULL, &o, &e), 0);
	stale = json_deep_copy(o->obj);
	CHECK_INT(gt_api_update(api, c, "default", "cc", GT_PART_MAIN, json_deep_copy(o->obj), NULL, &o2, &e), 0);
	/* an update that changes nothing keeps the resourceVersion */
	CHECK_STR(gt_json_str(o2->obj, "metadata.resourceVersion"), gt_json_str(o->obj, "metadata.resourceVersion"));
	gt_obj_unref(o2);
	CHECK_INT(gt_api_modify(api, c, "default", "cc", GT_PART_MAIN, set_label, "y", NULL, &o2, &e), 0);
	gt_obj_unref(o2);
	gt_json_set_str(stale, "data.k", "changed");
	CHECK_INT(gt_api_update(api, c, "default", "cc", GT_PART_MAIN, stale, NULL, &o2, &e), -ESTALE);
	CHECK(strstr(e.msg, "the object has been modified") != NULL);
	gt_obj_unref(o);
}

static int set_uid(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set_str(obj, "metadata.uid", ctx);
	gt_json_set(obj, "status.replicas", json_integer(3));
	return 0;
}

/* An object deleted and created again under its name is another object: a
 * write that names the old one's uid fails (an update: 409, a patch or a
 * status write: 422) and changes nothing; its own uid passes. */
TEST(uid_names_the_object)
{
	const struct gt_resource *c = R("", "configmaps"), *d = R("apps", "deployments");
	struct gt_delete_opts now = { .grace = 0 };
	struct gt_obj *o = NULL, *o2 = NULL;
	struct gt_err e;
	char old[64];
	json_t *stale;
	bool gone;
	int64_t v = 0;

	gt_err_clear(&e);
	CHECK_INT(gt_api_create(api, c, "default", cm("uu"), NULL, &o, &e), 0);
	stale = json_deep_copy(o->obj);
	gt_obj_unref(o);
	CHECK_INT(gt_api_delete(api, c, "default", "uu", &now, &o, &gone, &e), 0);
	gt_obj_unref(o);
	CHECK_INT(gt_api_create(api, c, "default", cm("uu"), NULL, &o, &e), 0);
	json_object_del(json_object_get(stale, "metadata"), "resourceVersion");
	gt_json_set_str(stale, "data.k", "from-the-old-one");
	CHECK_INT(gt_api_update(api, c, "default", "uu", GT_PART_MAIN, stale, NULL, &o2, &e), -ESTALE);
	CHECK(strstr(e.msg, "Precondition failed: UID in precondition: ") != NULL);
	CHECK(strstr(e.msg, gt_json_str(o->obj, "metadata.uid")) != NULL);
	gt_obj_unref(o);
	CHECK_INT(gt_api_get(api, c, "default", "uu", &o, &e), 0);
	CHECK(strcmp(gt_json_str(o->obj, "data.k") ?: "", "from-the-old-one") != 0);
	gt_obj_unref(o);

	/* a status patch carrying a former deployment's uid */
	CHECK_INT(gt_api_get(api, d, "default", "web", &o, &e), 0);
	snprintf(old, sizeof(old), "%s", gt_json_str(o->obj, "metadata.uid"));
	gt_obj_unref(o);
	CHECK_INT(gt_api_modify(api, d, "default", "web", GT_PART_STATUS, set_uid, "0000-gone", NULL, &o,
				&e), -EBADMSG);
	CHECK_STR(e.msg, "Deployment \"web\" is invalid: metadata.uid: Invalid value: \"0000-gone\": "
			 "field is immutable");
	CHECK_INT(gt_api_modify(api, d, "default", "web", GT_PART_STATUS, set_uid, old, NULL, &o, &e), 0);
	gt_json_int(o->obj, "status.replicas", &v);
	CHECK_INT(v, 3);
	gt_obj_unref(o);
}

static bool exists(const struct gt_resource *r, const char *ns, const char *name)
{
	struct gt_obj *o;

	if (gt_api_get(api, r, ns, name, &o, NULL) < 0)
		return false;
	gt_obj_unref(o);
	return true;
}

static void owned_cm(const char *name, const struct gt_obj *owner)
{
	json_t *c = cm(name);
	struct gt_obj *o = NULL;

	gt_json_set(c, "metadata.ownerReferences",
		    json_pack("[{s:s,s:s,s:s,s:s}]", "apiVersion", "v1", "kind", "ConfigMap", "name",
			      gt_json_str(owner->obj, "metadata.name"), "uid",
			      gt_json_str(owner->obj, "metadata.uid")));
	if (gt_api_create(api, R("", "configmaps"), "default", c, NULL, &o, NULL) == 0)
		gt_obj_unref(o);
}

static void gc_until_quiet(void)
{
	for (int i = 0; i < 10 && gt_gc_pass(api) > 0; i++)
		;
}

TEST(garbage_collection_policies)
{
	const struct gt_resource *c = R("", "configmaps");
	struct gt_delete_opts bg = { .grace = -1, .prop = GT_PROP_BACKGROUND };
	struct gt_delete_opts orphan = { .grace = -1, .prop = GT_PROP_ORPHAN };
	struct gt_delete_opts fg = { .grace = -1, .prop = GT_PROP_FOREGROUND };
	struct gt_obj *owner = NULL, *o = NULL;
	bool gone;

	/* Background: owner gone at once, dependent collected after. */
	gt_api_create(api, c, "default", cm("own1"), NULL, &owner, NULL);
	owned_cm("dep1", owner);
	CHECK_INT(gt_api_delete(api, c, "default", "own1", &bg, &o, &gone, NULL), 0);
	CHECK(gone);
	gt_obj_unref(o);
	gt_obj_unref(owner);
	CHECK(exists(c, "default", "dep1"));
	gc_until_quiet();
	CHECK(!exists(c, "default", "dep1"));

	/* Orphan: dependent kept, without the ownerReference. */
	gt_api_create(api, c, "default", cm("own2"), NULL, &owner, NULL);
	owned_cm("dep2", owner);
	CHECK_INT(gt_api_delete(api, c, "default", "own2", &orphan, &o, &gone, NULL), 0);
	CHECK(!gone);
	gt_obj_unref(o);
	gt_obj_unref(owner);
	gc_until_quiet();
	CHECK(!exists(c, "default", "own2"));
	CHECK(exists(c, "default", "dep2"));
	if (gt_api_get(api, c, "default", "dep2", &o, NULL) == 0) {
		CHECK(gt_json_path(o->obj, "metadata.ownerReferences") == NULL);
		gt_obj_unref(o);
	}

	/* Foreground: owner waits (deletionTimestamp) until the dependent is gone. */
	gt_api_create(api, c, "default", cm("own3"), NULL, &owner, NULL);
	owned_cm("dep3", owner);
	CHECK_INT(gt_api_delete(api, c, "default", "own3", &fg, &o, &gone, NULL), 0);
	CHECK(!gone);
	CHECK(gt_json_path(o->obj, "metadata.deletionTimestamp") != NULL);
	gt_obj_unref(o);
	gt_obj_unref(owner);
	gc_until_quiet();
	CHECK(!exists(c, "default", "dep3"));
	CHECK(!exists(c, "default", "own3"));
}

static int add_finalizer(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	gt_json_set(obj, "metadata.finalizers", json_pack("[s]", (const char *)ctx));
	return 0;
}

static int clear_finalizers(json_t *obj, void *ctx, struct gt_err *err)
{
	(void)err;
	(void)ctx;
	gt_json_set(obj, "metadata.finalizers", json_array());
	return 0;
}

TEST(finalizers_hold_deletion)
{
	const struct gt_resource *c = R("", "configmaps");
	struct gt_obj *o = NULL;
	struct gt_err e;
	bool gone;

	gt_err_clear(&e);
	gt_api_create(api, c, "default", cm("fin"), NULL, &o, NULL);
	gt_obj_unref(o);
	CHECK_INT(gt_api_modify(api, c, "default", "fin", GT_PART_MAIN, add_finalizer, "example.com/x", NULL, &o, &e), 0);
	gt_obj_unref(o);
	CHECK_INT(gt_api_delete(api, c, "default", "fin", NULL, &o, &gone, &e), 0);
	CHECK(!gone);
	gt_obj_unref(o);
	/* no new finalizers while deleting */
	CHECK_INT(gt_api_modify(api, c, "default", "fin", GT_PART_MAIN, add_finalizer, "example.com/y", NULL, &o, &e), -EBADMSG);
	CHECK(exists(c, "default", "fin"));
	CHECK_INT(gt_api_modify(api, c, "default", "fin", GT_PART_MAIN, clear_finalizers, NULL, NULL, &o, &e), 0);
	gt_obj_unref(o);
	CHECK(!exists(c, "default", "fin"));
}

TEST(namespace_deletion)
{
	const struct gt_resource *n = R("", "namespaces"), *c = R("", "configmaps");
	struct gt_obj *o = NULL;
	struct gt_err e;
	bool gone;

	gt_err_clear(&e);
	CHECK_INT(gt_api_create(api, n, "", json_pack("{s:{s:s}}", "metadata", "name", "tmp"), NULL, &o, &e), 0);
	gt_obj_unref(o);
	CHECK_INT(gt_api_create(api, c, "tmp", cm("inside"), NULL, &o, &e), 0);
	gt_obj_unref(o);
	CHECK_INT(gt_api_delete(api, n, "", "tmp", NULL, &o, &gone, &e), 0);
	CHECK_STR(gt_json_str(o->obj, "status.phase"), "Terminating");
	gt_obj_unref(o);
	CHECK_INT(gt_api_create(api, c, "tmp", cm("late"), NULL, &o, &e), -EACCES);
	gc_until_quiet();
	CHECK(!exists(c, "tmp", "inside"));
	CHECK(!exists(n, "", "tmp"));
	CHECK_INT(gt_api_delete(api, n, "", "default", NULL, &o, &gone, &e), -EACCES);
	CHECK(exists(n, "", "default"));
	CHECK(exists(n, "", "kube-system"));
}

int main(void)
{
	setup("api");
	RUN(create_sets_metadata_and_defaults);
	RUN(generation_and_status_subresource);
	RUN(update_conflict_and_noop);
	RUN(uid_names_the_object);
	RUN(garbage_collection_policies);
	RUN(finalizers_hold_deletion);
	RUN(namespace_deletion);
	teardown();
	return t_done();
}
