/* message-channel: MessageChannel as in Node's worker_threads docs, then a port handed to a
 * worker.
 *
 *   const { port1, port2 } = new MessageChannel();
 *   port1.on('message', (message) => console.log('received', message));
 *   port2.postMessage({ foo: 'bar' });
 *   // Prints: received { foo: 'bar' }
 *
 * Part two: port2 of a second channel travels to a worker inside a message (a transfer:
 * it leaves this thread); the worker answers on it from its own loop and closes it; both
 * ends get 'close'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvproc.h>

static int json_out;
static json_t *summary;

static void print_received(const char *who, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!json_out)
        printf("%s received %s\n", who, text != NULL ? text : "?");
    json_array_append_new(json_object_get(summary, "received"), json_string(text));
    free(text);
}

static void on_close(uvproc_port_t *port)
{
    const char *name = uvproc_port_data(port);
    if (!json_out)
        printf("%s: close\n", name);
    json_array_append_new(json_object_get(summary, "closed"), json_string(name));
}

/* Part one: both ports on this loop. */
static void port1_on_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    print_received("port1", msg->value);
    uvproc_port_close(port); /* 'close' on both ends */
}

/* Part two, in the worker: the port arrives inside the first message. */
static uv_loop_t *worker_loop;

static void worker_port_on_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    json_t *reply =
        json_pack("{s:O,s:I}", "echo", msg->value, "fromThread", (json_int_t)uvproc_thread_id());
    uvproc_port_post_new(port, reply, NULL);
    uvproc_port_close(port);
}

static void worker_on_parent_message(uvproc_port_t *parent, uvproc_message_t *msg)
{
    uvproc_port_options_t o = {.on_message = worker_port_on_message};
    if (msg->port_count == 1) {
        uvproc_port_start(msg->ports[0], worker_loop, &o);
        msg->ports[0] = NULL; /* taken: ours now */
    }
    uvproc_port_close(parent); /* nothing more from the parent: the worker ends with the port */
}

static int worker_main(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = worker_on_parent_message};
    (void)arg;
    worker_loop = loop;
    return uvproc_port_start(uvproc_parent_port(), loop, &o);
}

static void main_port_on_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    (void)port;
    print_received("main's port (from the worker)", msg->value);
}

static void on_exit_cb(uvproc_worker_t *w, int code)
{
    (void)w;
    if (!json_out)
        printf("worker exited with code %d\n", code);
    json_object_set_new(summary, "worker_exit", json_integer(code));
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--json]\n"
                   "port1/port2 of a MessageChannel on one loop, then a port handed to a "
                   "worker thread\nthat answers on it and closes it.\n",
                   argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json_out = 1;
        } else {
            fprintf(stderr, "unknown argument %s (try --help)\n", argv[i]);
            return 2;
        }
    }
    uv_loop_t *loop = uv_default_loop();
    uvproc_port_t *port1, *port2, *mine, *theirs;
    summary = json_pack("{s:[],s:[]}", "received", "closed");

    /* Part one. */
    uvproc_port_options_t o1 = {
        .on_message = port1_on_message, .on_close = on_close, .data = "port1"};
    uvproc_port_options_t o2 = {.on_close = on_close, .data = "port2"};
    uvproc_message_channel(&port1, &port2);
    uvproc_port_start(port1, loop, &o1);
    uvproc_port_start(port2, loop, &o2);
    uvproc_port_post_new(port2, json_pack("{s:s}", "foo", "bar"), NULL);
    uv_run(loop, UV_RUN_DEFAULT);

    /* Part two. */
    uvproc_port_options_t om = {
        .on_message = main_port_on_message, .on_close = on_close, .data = "main's port"};
    uvproc_worker_options_t wo = {.on_exit = on_exit_cb};
    uvproc_worker_t *w;
    uvproc_message_channel(&mine, &theirs);
    uvproc_port_start(mine, loop, &om);
    int err = uvproc_worker_start(loop, &w, worker_main, &wo);
    if (err != 0) {
        fprintf(stderr, "uvproc_worker_start: %s\n", uvproc_strerror(err));
        return 1;
    }
    uvproc_transfer_t t = {.ports = &theirs, .port_count = 1};
    uvproc_worker_post_new(w, json_string("here is a port"), &t);
    uvproc_port_post_new(mine, json_pack("{s:s}", "question", "who is there?"), NULL);
    uv_run(loop, UV_RUN_DEFAULT);

    if (json_out) {
        char *text = json_dumps(summary, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
    }
    json_decref(summary);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
