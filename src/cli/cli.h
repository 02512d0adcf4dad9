/*
 * cli.h - the subcommands of the gantry binary, one file each.  Each takes
 * argc/argv starting at its own name, prints its errors once, and returns
 * the process exit status.
 */
#ifndef GT_CLI_CLI_H
#define GT_CLI_CLI_H

int gt_cmd_server(int argc, char **argv);
int gt_cmd_version(int argc, char **argv);
int gt_cmd_agent(int argc, char **argv);   /* src/cli/agent.c */
int gt_cmd_node(int argc, char **argv);    /* src/cli/agent.c */
int gt_cmd_image(int argc, char **argv);   /* src/cli/image.c */
int gt_cmd_shim(int argc, char **argv);    /* src/agent/shim.c */
int gt_cmd_exec(int argc, char **argv);    /* src/cli/exec.c */
int gt_cmd_port_forward(int argc, char **argv); /* src/cli/portforward.c */
int gt_cmd_rsh(int argc, char **argv);     /* src/cli/rsh.c */

/* ---- the WebSocket client both exec and port-forward use (exec.c) ---- */

struct gt_client;
struct gt_err;
struct gt_buf;
struct gt_tlsconn;
struct gt_ws;
struct gt_chan_proto;

struct gt_cli_ws {
	struct gt_tlsconn *conn;
	struct gt_ws *ws;                   /* client end (masks its frames) */
	const struct gt_chan_proto *proto;  /* the subprotocol the server chose */
};

/*
 * Loads the kubeconfig: path, else $KUBECONFIG, else
 * /var/lib/gantry/admin.kubeconfig when readable, else ~/.kube/config.
 * Returns 0 and *out (gt_client_free) or a negative errno with err set.
 */
int gt_cli_client(const char *path, struct gt_client **out, struct gt_err *err);

/*
 * Opens a WebSocket to c's server at path (query included, already
 * encoded; the server URL's path prefix is prepended) offering protocols
 * (a Sec-WebSocket-Protocol value), with c's bearer token and CA.  Checks
 * the 101, the accept key and the chosen protocol.  Returns 0 and fills
 * *out (release with gt_cli_ws_close), or a negative errno with err->msg a
 * line ready to print (for a non-101 answer: `Error from server
 * (NotFound): pods "x" not found`, from the Status the server sent).
 */
int gt_cli_ws_dial(struct gt_client *c, const char *path, const char *protocols,
		   struct gt_cli_ws *out, struct gt_err *err);
/* Frees the connection (no close frame is sent: call gt_ws_close first). */
void gt_cli_ws_close(struct gt_cli_ws *w);
/* Appends s percent-encoded (all but RFC 3986 unreserved bytes). */
void gt_cli_urlencode(struct gt_buf *b, const char *s);

#define GT_VERSION "0.1.0"

#endif
