/* Unit tests for src/sched: filters, scores and the unschedulable message. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "sched/sched.h"
#include "t.h"

static json_t *objs[256];
static size_t nobjs;

/* A JSON fixture kept until the end of the test (the snapshot borrows). */
static json_t *J(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	json_error_t e;
	json_t *v;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(buf, 0, &e);
	if (!v)
		fprintf(stderr, "  fixture: %s: %s\n", e.text, buf);
	objs[nobjs++] = v;
	return v;
}

static void drop_fixtures(void)
{
	while (nobjs)
		json_decref(objs[--nobjs]);
}

static json_t *node(const char *name, const char *cpu, const char *mem, int gpus,
		    const char *extra_meta, const char *extra_spec, bool ready)
{
	return J("{'metadata':{'name':'%s'%s},'spec':{%s},'status':{'allocatable':{'cpu':'%s',"
		 "'memory':'%s','pods':'110'%s},'conditions':[{'type':'Ready','status':'%s'}]}}",
		 name, extra_meta, extra_spec, cpu, mem,
		 gpus ? (gpus == 4 ? ",'nvidia.com/gpu':'4'" : ",'nvidia.com/gpu':'8'") : "",
		 ready ? "True" : "False");
}

static json_t *pod(const char *name, const char *on, const char *cpu, int gpus,
		   const char *extra_spec)
{
	char gpu[64] = "";

	if (gpus)
		snprintf(gpu, sizeof(gpu), ",'limits':{'nvidia.com/gpu':'%d'}", gpus);
	return J("{'metadata':{'name':'%s','namespace':'default','labels':{'app':'%s'}},"
		 "'spec':{%s%s%s'containers':[{'name':'c','resources':{'requests':{'cpu':'%s'}%s}}]"
		 "%s}}", name, name, on ? "'nodeName':'" : "", on ? on : "", on ? "'," : "", cpu, gpu,
		 extra_spec);
}

static const char *pick(struct gt_sched *s, const json_t *p, const json_t *vt, struct gt_buf *why)
{
	const char *n = NULL;

	return gt_sched_pick(s, p, vt, &n, why) == 0 ? n : NULL;
}

TEST(requests)
{
	json_t *p = J("{'spec':{'initContainers':[{'resources':{'requests':{'cpu':'3'}}}],"
		      "'containers':[{'resources':{'requests':{'cpu':'500m','memory':'1Gi'}}},"
		      "{'resources':{'limits':{'cpu':'1','nvidia.com/gpu':'2'}}}]}}");

	CHECK_INT(gt_sched_pod_request(p, "cpu"), 3000); /* the init container's 3 > 1.5 */
	CHECK_INT(gt_sched_pod_request(p, "memory"), 1073741824);
	CHECK_INT(gt_sched_pod_request(p, GT_SCHED_GPU), 2); /* limits stand in for requests */
	CHECK_INT(gt_sched_pod_request(p, "example.com/foo"), 0);
	drop_fixtures();
}

TEST(resource_fit_and_message)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;

	gt_buf_init(&why);
	gt_sched_add_node(s, node("a", "2", "4Gi", 0, "", "", true));
	gt_sched_add_node(s, node("b", "4", "4Gi", 0, "", "", true));
	gt_sched_add_pod(s, pod("busy", "b", "3500m", 0, ""));
	CHECK_STR(pick(s, pod("p", NULL, "1", 0, ""), NULL, &why), "a");
	CHECK(pick(s, pod("big", NULL, "5", 0, ""), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/2 nodes are available: 2 Insufficient cpu.");
	/* the less loaded node wins when both fit */
	gt_sched_add_pod(s, pod("most", "a", "1900m", 0, ""));
	CHECK_STR(pick(s, pod("q", NULL, "100m", 0, ""), NULL, &why), "b");
	gt_sched_free(s);
	s = gt_sched_new(NULL);
	CHECK(pick(s, pod("p", NULL, "1", 0, ""), NULL, &why) == NULL);
	CHECK_STR(why.data, "no nodes available to schedule pods");
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

TEST(gpu_binpack)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;

	gt_buf_init(&why);
	gt_sched_add_node(s, node("g1", "16", "64Gi", 4, "", "", true));
	gt_sched_add_node(s, node("g2", "16", "64Gi", 4, "", "", true));
	gt_sched_add_node(s, node("c", "16", "64Gi", 0, "", "", true));
	gt_sched_add_pod(s, pod("used", "g2", "1", 2, ""));
	/* the partly used GPU node first: g1 stays whole */
	CHECK_STR(pick(s, pod("two", NULL, "1", 2, ""), NULL, &why), "g2");
	CHECK_STR(pick(s, pod("three", NULL, "1", 3, ""), NULL, &why), "g1");
	/* a pod without GPUs keeps off the GPU nodes */
	CHECK_STR(pick(s, pod("cpu", NULL, "1", 0, ""), NULL, &why), "c");
	CHECK(pick(s, pod("huge", NULL, "1", 8, ""), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.");
	/* two pods never share a GPU: the accounted ones are gone */
	gt_sched_add_pod(s, pod("two", "g2", "1", 2, ""));
	CHECK(pick(s, pod("x", NULL, "1", 1, ""), NULL, &why) != NULL);
	CHECK_STR(pick(s, pod("y", NULL, "1", 1, ""), NULL, &why), "g1");
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

TEST(taints_readiness_unschedulable)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;

	gt_buf_init(&why);
	gt_sched_add_node(s, node("t", "4", "4Gi", 0, "",
				  "'taints':[{'key':'gpu','value':'yes','effect':'NoSchedule'},"
				  "{'key':'soft','effect':'PreferNoSchedule'}]", true));
	gt_sched_add_node(s, node("down", "4", "4Gi", 0, "", "", false));
	gt_sched_add_node(s, node("cordoned", "4", "4Gi", 0, "", "'unschedulable':true", true));
	CHECK(pick(s, pod("p", NULL, "1", 0, ""), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/3 nodes are available: 1 node(s) had untolerated taint "
		  "{gpu: yes}, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
		  "1 node(s) were unschedulable.");
	CHECK_STR(pick(s, pod("tol", NULL, "1", 0, ",'tolerations':[{'key':'gpu','operator':'Equal',"
				  "'value':'yes','effect':'NoSchedule'}]"), NULL, &why), "t");
	CHECK(pick(s, pod("wrong", NULL, "1", 0, ",'tolerations':[{'key':'gpu','value':'no'}]"),
		   NULL, &why) == NULL);
	CHECK_STR(pick(s, pod("exists", NULL, "1", 0, ",'tolerations':[{'operator':'Exists'}]"),
		       NULL, &why), "t");
	CHECK_STR(pick(s, pod("drain", NULL, "1", 0, ",'tolerations':[{'key':"
				  "'node.kubernetes.io/unschedulable','operator':'Exists',"
				  "'effect':'NoSchedule'}]"), NULL, &why), "cordoned");
	gt_sched_free(s);
	drop_fixtures();

	/* every pod tolerates not-ready/unreachable NoExecute for a while
	 * (DefaultTolerationSeconds): that keeps it on a failing node, it does
	 * not place it there; the controller's unreachable taint is reported */
	s = gt_sched_new(NULL);
	gt_sched_add_node(s, node("down", "4", "4Gi", 0, "", "", false));
	gt_sched_add_node(s, node("gone", "4", "4Gi", 0, "",
				  "'taints':[{'key':'node.kubernetes.io/unreachable','effect':'NoSchedule'},"
				  "{'key':'node.kubernetes.io/unreachable','effect':'NoExecute'}]", false));
	CHECK(pick(s, pod("dflt", NULL, "1", 0, ",'tolerations':[{'key':'node.kubernetes.io/not-ready',"
			  "'operator':'Exists','effect':'NoExecute','tolerationSeconds':300},"
			  "{'key':'node.kubernetes.io/unreachable','operator':'Exists',"
			  "'effect':'NoExecute','tolerationSeconds':300}]"), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/2 nodes are available: 1 node(s) had untolerated taint "
		  "{node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint "
		  "{node.kubernetes.io/unreachable: }.");
	CHECK_STR(pick(s, pod("ds", NULL, "1", 0, ",'tolerations':[{'key':'node.kubernetes.io/not-ready',"
				  "'operator':'Exists','effect':'NoSchedule'}]"), NULL, &why), "down");
	CHECK(gt_sched_toleration(pod("t", NULL, "1", 0, ",'tolerations':[{'operator':'Exists'}]"),
				  "node.kubernetes.io/unreachable", "", "NoExecute") != NULL);
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

#define REQ(terms) ",'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':" \
	"{'nodeSelectorTerms':[" terms "]}}}"

TEST(node_affinity_and_selector)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;

	gt_buf_init(&why);
	gt_sched_add_node(s, node("a", "4", "4Gi", 0, ",'labels':{'zone':'x','gen':'3'}", "", true));
	gt_sched_add_node(s, node("b", "4", "4Gi", 0, ",'labels':{'zone':'y','gen':'5'}", "", true));
	CHECK_STR(pick(s, pod("sel", NULL, "1", 0, ",'nodeSelector':{'zone':'y'}"), NULL, &why), "b");
	CHECK(pick(s, pod("none", NULL, "1", 0, ",'nodeSelector':{'zone':'z'}"), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/2 nodes are available: 2 node(s) didn't match Pod's node "
		  "affinity/selector.");
	CHECK_STR(pick(s, pod("lt", NULL, "1", 0, REQ("{'matchExpressions':[{'key':'gen','operator':'Lt','values':['4']}]}")), NULL, &why), "a");
	CHECK(pick(s, pod("lt3", NULL, "1", 0, REQ("{'matchExpressions':[{'key':'gen','operator':'Lt','values':['3']}]}")), NULL, &why) == NULL);
	CHECK_STR(pick(s, pod("notin", NULL, "1", 0, REQ("{'matchExpressions':[{'key':'zone','operator':'NotIn','values':['x']}]}")), NULL, &why), "b");
	CHECK_STR(pick(s, pod("field", NULL, "1", 0, REQ("{'matchFields':[{'key':'metadata.name','operator':'In','values':['b']}]}")), NULL, &why), "b");
	/* terms are ORed; an empty term matches nothing */
	CHECK_STR(pick(s, pod("or", NULL, "1", 0, REQ("{},{'matchExpressions':[{'key':'gen','operator':'Gt','values':['4']}]}")), NULL, &why), "b");
	CHECK(pick(s, pod("ex", NULL, "1", 0, REQ("{'matchExpressions':[{'key':'nope','operator':'Exists'}]}")), NULL, &why) == NULL);
	/* preferred terms steer among fitting nodes */
	CHECK_STR(pick(s, pod("pref", NULL, "1", 0, ",'affinity':{'nodeAffinity':{"
			       "'preferredDuringSchedulingIgnoredDuringExecution':[{'weight':10,"
			       "'preference':{'matchExpressions':[{'key':'zone','operator':'In',"
			       "'values':['x']}]}}]}}"), NULL, &why), "a");
	/* a bound volume pins the pod to its node */
	CHECK_STR(pick(s, pod("vol", NULL, "1", 0, ""),
		       J("[[{'matchExpressions':[{'key':'zone','operator':'In','values':['y']}]}]]"),
		       &why), "b");
	CHECK(pick(s, pod("vol2", NULL, "1", 0, ""),
		   J("[[{'matchExpressions':[{'key':'zone','operator':'In','values':['q']}]}]]"),
		   &why) == NULL);
	CHECK_STR(why.data, "0/2 nodes are available: 2 node(s) had volume node affinity conflict.");
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

TEST(anti_affinity_hostname)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;
	const char *anti = ",'affinity':{'podAntiAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
			   "[{'topologyKey':'kubernetes.io/hostname','labelSelector':{'matchLabels':"
			   "{'app':'web'}}}]}}";

	gt_buf_init(&why);
	gt_sched_add_node(s, node("a", "4", "4Gi", 0, "", "", true));
	gt_sched_add_node(s, node("b", "8", "8Gi", 0, "", "", true));
	gt_sched_add_pod(s, pod("web", "b", "1", 0, ""));
	CHECK_STR(pick(s, pod("w2", NULL, "1", 0, anti), NULL, &why), "a");
	gt_sched_add_pod(s, pod("web", "a", "1", 0, ""));
	CHECK(pick(s, pod("w3", NULL, "1", 0, anti), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.");
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

TEST(too_many_pods)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;

	gt_buf_init(&why);
	gt_sched_add_node(s, J("{'metadata':{'name':'tiny'},'status':{'allocatable':{'cpu':'4',"
			       "'memory':'1Gi','pods':'1'},'conditions':[{'type':'Ready','status':'True'}]}}"));
	CHECK_STR(pick(s, pod("one", NULL, "100m", 0, ""), NULL, &why), "tiny");
	gt_sched_add_pod(s, pod("one", "tiny", "100m", 0, ""));
	CHECK(pick(s, pod("two", NULL, "100m", 0, ""), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/1 nodes are available: 1 Too many pods.");
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

/* A gang is tried with assumptions that can be taken back. */
TEST(assume_and_forget)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;
	json_t *big = pod("big", NULL, "1", 4, "");

	gt_buf_init(&why);
	gt_sched_add_node(s, node("g1", "16", "64Gi", 4, "", "", true));
	gt_sched_assume(s, big, "g1");
	CHECK(pick(s, pod("one", NULL, "1", 1, ""), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.");
	gt_sched_forget(s, big, "g1");
	CHECK_STR(pick(s, pod("one", NULL, "1", 1, ""), NULL, &why), "g1");
	gt_sched_assume(s, big, "nope"); /* unknown node: ignored */
	CHECK_STR(pick(s, pod("two", NULL, "1", 4, ""), NULL, &why), "g1");
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

/* DaemonSet eligibility: selector, affinity, taints; matchFields pins; cordons do not count. */
TEST(daemon_fits)
{
	json_t *plain = node("n1", "1", "1Gi", 0, ",'labels':{'role':'mon'}", "'unschedulable':true",
			     false);
	json_t *nosched = node("n2", "1", "1Gi", 0, "",
			       "'taints':[{'key':'k','value':'v','effect':'NoSchedule'}]", true);
	json_t *noexec = node("n3", "1", "1Gi", 0, "",
			      "'taints':[{'key':'k','value':'v','effect':'NoExecute'}]", true);
	json_t *any = pod("d", NULL, "100m", 0, ",'tolerations':[{'key':'node.kubernetes.io/"
			  "unschedulable','operator':'Exists','effect':'NoSchedule'}]");
	json_t *sel = pod("s", NULL, "100m", 0, ",'nodeSelector':{'role':'mon'}");
	json_t *tol = pod("t", NULL, "100m", 0, ",'tolerations':[{'key':'k','operator':'Exists'}]");
	json_t *pin = pod("p", NULL, "100m", 0, ",'affinity':{'nodeAffinity':{'requiredDuringScheduling"
			  "IgnoredDuringExecution':{'nodeSelectorTerms':[{'matchFields':[{'key':"
			  "'metadata.name','operator':'In','values':['n2']}]}]}}}");

	CHECK(gt_sched_daemon_fits(plain, any, false)); /* cordoned, not ready: still runs */
	CHECK(gt_sched_daemon_fits(plain, sel, false));
	CHECK(!gt_sched_daemon_fits(nosched, sel, false));
	CHECK(!gt_sched_daemon_fits(nosched, any, false));
	CHECK(gt_sched_daemon_fits(nosched, any, true)); /* NoSchedule: the running one stays */
	CHECK(!gt_sched_daemon_fits(noexec, any, true));
	CHECK(gt_sched_daemon_fits(noexec, tol, false));
	CHECK(gt_sched_daemon_fits(nosched, pin, false) == false); /* tainted */
	CHECK(!gt_sched_daemon_fits(plain, pin, false));
	CHECK(!gt_sched_daemon_fits(noexec, pin, false));
	drop_fixtures();
}

/* A pod with a priority, maybe in a gang, maybe with a deletionTimestamp. */
static json_t *ppod(const char *name, const char *on, int gpus, int prio, const char *gang,
		    const char *extra_spec)
{
	char g[128] = "", n[128] = "";

	if (gang)
		snprintf(g, sizeof(g), ",'scheduling.x-k8s.io/pod-group':'%s'", gang);
	if (on)
		snprintf(n, sizeof(n), "'nodeName':'%s',", on);
	return J("{'metadata':{'name':'%s','namespace':'default','labels':{'app':'%s'%s}},"
		 "'spec':{%s'priority':%d,'containers':[{'name':'c','resources':{'requests':"
		 "{'cpu':'100m'},'limits':{'nvidia.com/gpu':'%d'}}}]%s}}", name, name, g, n, prio,
		 gpus, extra_spec);
}

static bool has_victim(const json_t *victims, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach(victims, i, v)
		if (!strcmp(gt_json_str(v, "metadata.name") ?: "", name))
			return true;
	return false;
}

/* Fewest and lowest-priority victims; higher priorities and leaving pods stay. */
TEST(preempt_victims)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;
	json_t *v = json_array();
	const char *on = NULL;

	gt_buf_init(&why);
	gt_sched_add_node(s, node("n1", "16", "64Gi", 4, "", "", true));
	gt_sched_add_node(s, node("n2", "16", "64Gi", 4, "", "", true));
	gt_sched_add_node(s, node("tainted", "16", "64Gi", 8, "",
				  "'taints':[{'key':'x','effect':'NoSchedule'}]", true));
	gt_sched_add_pod(s, ppod("a", "n1", 2, 10, NULL, ""));
	gt_sched_add_pod(s, ppod("b", "n1", 2, 10, NULL, ""));
	gt_sched_add_pod(s, ppod("c", "n2", 1, 5, NULL, ""));
	gt_sched_add_pod(s, ppod("d", "n2", 3, 1, NULL, ""));
	CHECK(pick(s, ppod("hi", NULL, 3, 100, NULL, ""), NULL, &why) == NULL);
	/* n1 would need a and b (priority 10); n2 only d (priority 1): c is put back */
	CHECK_INT(gt_sched_preempt(s, ppod("hi", NULL, 3, 100, NULL, ""), NULL, &on, v), 0);
	CHECK_STR(on, "n2");
	CHECK_INT(json_array_size(v), 1);
	CHECK(has_victim(v, "d"));
	/* the snapshot is as it was */
	CHECK(pick(s, ppod("hi", NULL, 3, 100, NULL, ""), NULL, &why) == NULL);
	/* nothing of a higher or equal priority goes */
	json_array_clear(v);
	CHECK_INT(gt_sched_preempt(s, ppod("mid", NULL, 4, 5, NULL, ""), NULL, &on, v), -ENOSPC);
	CHECK_INT(json_array_size(v), 0);
	/* preemptionPolicy Never */
	CHECK_INT(gt_sched_preempt(s, ppod("never", NULL, 3, 100, NULL,
					    ",'preemptionPolicy':'Never'"), NULL, &on, v), -EPERM);
	/* a pod being deleted is never a victim: its room is coming anyway */
	gt_sched_free(s);
	s = gt_sched_new(NULL);
	gt_sched_add_node(s, node("n1", "16", "64Gi", 4, "", "", true));
	gt_sched_add_pod(s, J("{'metadata':{'name':'leaving','namespace':'default',"
			      "'deletionTimestamp':'2026-01-01T00:00:00Z'},'spec':{'nodeName':'n1',"
			      "'priority':0,'containers':[{'name':'c','resources':{'limits':"
			      "{'nvidia.com/gpu':'4'}}}]}}"));
	CHECK_INT(gt_sched_preempt(s, ppod("hi", NULL, 1, 100, NULL, ""), NULL, &on, v), -ENOSPC);
	CHECK(gt_sched_node_terminating(s, "n1"));
	/* a newer state of a bound pod replaces the old one, sums unchanged */
	{
		json_t *a = ppod("a", "n1", 0, 1, NULL, ""), *a2 = ppod("a", "n1", 0, 1, NULL, "");

		gt_sched_add_pod(s, a);
		CHECK(gt_sched_replace_pod(s, a, a2));
		CHECK(!gt_sched_replace_pod(s, a, a2)); /* a is gone from the snapshot */
		gt_sched_del_pod(s, a2);
		CHECK(!gt_sched_replace_pod(s, a2, a));
	}
	gt_sched_free(s);
	json_decref(v);
	gt_buf_release(&why);
	drop_fixtures();
}

/* A victim in a gang takes the whole gang, on every node; never half of one. */
TEST(preempt_gangs_whole)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;
	json_t *v = json_array();
	const char *on = NULL;

	gt_buf_init(&why);
	gt_sched_add_node(s, node("n1", "16", "64Gi", 4, "", "", true));
	gt_sched_add_node(s, node("n2", "16", "64Gi", 4, "", "", true));
	gt_sched_add_pod(s, ppod("low-0", "n1", 2, 1, "low", ""));
	gt_sched_add_pod(s, ppod("low-1", "n1", 2, 1, "low", ""));
	gt_sched_add_pod(s, ppod("low-2", "n2", 2, 1, "low", ""));
	gt_sched_add_pod(s, ppod("solo", "n2", 2, 50, NULL, ""));
	CHECK_INT(gt_sched_preempt(s, ppod("hi", NULL, 4, 100, NULL, ""), NULL, &on, v), 0);
	/* n2 would take solo (50); n1 takes gang low (1) whole: its member on n2 too */
	CHECK_STR(on, "n1");
	CHECK_INT(json_array_size(v), 3);
	CHECK(has_victim(v, "low-0") && has_victim(v, "low-1") && has_victim(v, "low-2"));
	CHECK(!has_victim(v, "solo"));
	/* a gang with one member the preemptor may not take is no victim at all */
	gt_sched_add_pod(s, ppod("low-3", "n2", 0, 200, "low", ""));
	json_array_clear(v);
	CHECK_INT(gt_sched_preempt(s, ppod("hi2", NULL, 2, 100, NULL, ""), NULL, &on, v), 0);
	CHECK_STR(on, "n2"); /* only solo can go */
	CHECK_INT(json_array_size(v), 1);
	CHECK(has_victim(v, "solo"));
	gt_sched_free(s);
	json_decref(v);
	gt_buf_release(&why);
	drop_fixtures();
}

#define SPREAD(skew, when, extra) ",'topologySpreadConstraints':[{'maxSkew':" #skew \
	",'topologyKey':'zone','whenUnsatisfiable':'" when "','labelSelector':{'matchLabels':" \
	"{'role':'web'}}" extra "}]"

static json_t *web(const char *name, const char *on, const char *extra_spec)
{
	char n[128] = "";

	if (on)
		snprintf(n, sizeof(n), "'nodeName':'%s',", on);
	return J("{'metadata':{'name':'%s','namespace':'default','labels':{'role':'web'}},"
		 "'spec':{%s'containers':[{'name':'c','resources':{'requests':{'cpu':'100m'}}}]%s}}",
		 name, n, extra_spec);
}

TEST(topology_spread)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;

	gt_buf_init(&why);
	gt_sched_add_node(s, node("a1", "8", "8Gi", 0, ",'labels':{'zone':'a'}", "", true));
	gt_sched_add_node(s, node("a2", "8", "8Gi", 0, ",'labels':{'zone':'a'}", "", true));
	gt_sched_add_node(s, node("b1", "8", "8Gi", 0, ",'labels':{'zone':'b'}", "", true));
	gt_sched_add_pod(s, web("w1", "a1", ""));
	gt_sched_add_pod(s, web("w2", "a2", ""));
	/* zone a has 2, b 0: a third in a would make the skew 3 > 1 */
	CHECK_STR(pick(s, web("w3", NULL, SPREAD(1, "DoNotSchedule", "")), NULL, &why), "b1");
	gt_sched_add_pod(s, web("w3", "b1", ""));
	gt_sched_add_pod(s, web("w4", "b1", ""));
	/* 2 and 2: either zone */
	CHECK(pick(s, web("w5", NULL, SPREAD(1, "DoNotSchedule", "")), NULL, &why) != NULL);
	/* pods of other labels do not count */
	gt_sched_add_pod(s, pod("other", "b1", "100m", 0, ""));
	gt_sched_add_pod(s, web("w5", "a1", ""));
	CHECK_STR(pick(s, web("w6", NULL, SPREAD(1, "DoNotSchedule", "")), NULL, &why), "b1");
	/* minDomains 3 with two zones: the minimum counts as 0, so skew 3 > 2 everywhere */
	CHECK(pick(s, web("w7", NULL, SPREAD(2, "DoNotSchedule", ",'minDomains':3")), NULL,
		   &why) == NULL);
	CHECK_STR(why.data, "0/3 nodes are available: 3 node(s) didn't match pod topology spread "
		  "constraints.");
	/* ScheduleAnyway: never refuses, prefers the emptier zone */
	CHECK_STR(pick(s, web("w8", NULL, SPREAD(1, "ScheduleAnyway", "")), NULL, &why), "b1");
	/* a node without the key cannot take a DoNotSchedule pod */
	gt_sched_add_node(s, node("bare", "64", "64Gi", 0, ",'labels':{'kind':'bare'}", "", true));
	CHECK(pick(s, web("w9", NULL, SPREAD(5, "DoNotSchedule", "")), NULL, &why) != NULL);
	gt_sched_add_pod(s, web("fill-a", "a2", ""));
	gt_sched_add_pod(s, web("fill-b", "b1", ""));
	CHECK(pick(s, web("w10", NULL, SPREAD(1, "DoNotSchedule", "") ",'nodeSelector':"
			  "{'kind':'bare'}"), NULL, &why) == NULL);
	CHECK(strstr(why.data, "(missing required label)") != NULL);
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

/* nodeAffinityPolicy Honor (default): nodes the pod may not use are no domain. */
TEST(topology_spread_node_affinity_policy)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;
	const char *sel = ",'nodeSelector':{'pool':'p'}";
	char spec[600];

	gt_buf_init(&why);
	gt_sched_add_node(s, node("a1", "8", "8Gi", 0, ",'labels':{'zone':'a','pool':'p'}", "", true));
	gt_sched_add_node(s, node("b1", "8", "8Gi", 0, ",'labels':{'zone':'b','pool':'p'}", "", true));
	gt_sched_add_node(s, node("c1", "8", "8Gi", 0, ",'labels':{'zone':'c'}", "", true));
	gt_sched_add_pod(s, web("w1", "a1", ""));
	gt_sched_add_pod(s, web("w2", "b1", ""));
	/* zone c (empty) is not eligible: the minimum is 1, so a or b is fine */
	snprintf(spec, sizeof(spec), "%s%s", SPREAD(1, "DoNotSchedule", ""), sel);
	CHECK(pick(s, web("w3", NULL, spec), NULL, &why) != NULL);
	/* with Ignore, zone c counts: its 0 makes a and b too full */
	snprintf(spec, sizeof(spec), "%s%s",
		 SPREAD(1, "DoNotSchedule", ",'nodeAffinityPolicy':'Ignore'"), sel);
	CHECK(pick(s, web("w4", NULL, spec), NULL, &why) == NULL);
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

TEST(policy)
{
	struct gt_sched_policy p;
	struct gt_sched *s;
	struct gt_buf why = GT_BUF_INIT;
	struct gt_err err;

	gt_err_clear(&err);
	gt_buf_init(&why);
	CHECK_INT(gt_sched_policy_parse("gpu=LeastAllocated,gpu-weight=10,balanced=0,"
					"percentage-of-nodes-to-score=100", &p, &err), 0);
	CHECK(p.gpu_least && p.gpu_binpack == 10 && p.balanced == 0 && p.least_allocated == 1 &&
	      p.sample_percent == 100);
	CHECK_INT(gt_sched_policy_parse("", &p, &err), 0);
	CHECK(!p.gpu_least && p.gpu_binpack == 5);
	CHECK_INT(gt_sched_policy_parse("gpu=Most", &p, &err), -EINVAL);
	CHECK(strstr(err.msg, "MostAllocated or LeastAllocated") != NULL);
	CHECK_INT(gt_sched_policy_parse("balanced=101", &p, &err), -EINVAL);
	CHECK_INT(gt_sched_policy_parse("nope=1", &p, &err), -EINVAL);
	CHECK(strstr(err.msg, "unknown key \"nope\"") != NULL);
	CHECK_INT(gt_sched_policy_parse("balanced", &p, &err), -EINVAL);
	/* LeastAllocated GPUs: the emptier node */
	gt_sched_policy_parse("gpu=LeastAllocated", &p, &err);
	s = gt_sched_new(&p);
	gt_sched_add_node(s, node("g1", "16", "64Gi", 4, "", "", true));
	gt_sched_add_node(s, node("g2", "16", "64Gi", 4, "", "", true));
	gt_sched_add_pod(s, pod("used", "g1", "1", 2, ""));
	CHECK_STR(pick(s, pod("two", NULL, "1", 1, ""), NULL, &why), "g2");
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

/* Many nodes: a pick stops after enough feasible ones, and says why only if none. */
TEST(sampling)
{
	struct gt_sched *s = gt_sched_new(NULL);
	struct gt_buf why = GT_BUF_INIT;
	json_t *nodes[300];
	char name[32];

	gt_buf_init(&why);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		nodes[i] = json_pack("{s:{s:s},s:{s:{s:s,s:s,s:s},s:[{s:s,s:s}]}}", "metadata",
				     "name", name, "status", "allocatable", "cpu", "1", "memory",
				     "1Gi", "pods", "110", "conditions", "type", "Ready", "status",
				     "True");
		gt_sched_add_node(s, nodes[i]);
		json_decref(nodes[i]);
	}
	CHECK_INT(gt_sched_node_count(s), 300);
	/* successive picks start where the last stopped: not always node 0 */
	{
		const char *a = pick(s, pod("p", NULL, "100m", 0, ""), NULL, &why);
		const char *b = pick(s, pod("q", NULL, "100m", 0, ""), NULL, &why);

		CHECK(a && b && strcmp(a, b));
	}
	CHECK(pick(s, pod("big", NULL, "2", 0, ""), NULL, &why) == NULL);
	CHECK_STR(why.data, "0/300 nodes are available: 300 Insufficient cpu.");
	gt_sched_del_node(s, "n0");
	CHECK_INT(gt_sched_node_count(s), 299);
	gt_sched_free(s);
	gt_buf_release(&why);
	drop_fixtures();
}

int main(void)
{
	RUN(requests);
	RUN(resource_fit_and_message);
	RUN(gpu_binpack);
	RUN(taints_readiness_unschedulable);
	RUN(node_affinity_and_selector);
	RUN(anti_affinity_hostname);
	RUN(too_many_pods);
	RUN(assume_and_forget);
	RUN(daemon_fits);
	RUN(preempt_victims);
	RUN(preempt_gangs_whole);
	RUN(topology_spread);
	RUN(topology_spread_node_affinity_policy);
	RUN(policy);
	RUN(sampling);
	return t_done();
}
