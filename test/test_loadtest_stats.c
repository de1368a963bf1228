/* What a load child reports to loadtest's parent (tools/loadtest/loadtest_stats.c): a report
 * survives the trip through JSON exactly, and a malformed one is refused whole, adding nothing. */
#include "check.h"
#include "loadtest.h"

static lt_stats_t a, b;

static void fill(lt_stats_t *s)
{
    lt_stats_init(s);
    s->requests = 1000;
    s->bytes = 123456;
    s->unfinished = 3;
    s->errors[LT_ERR_RESET] = 7;
    s->errors[LT_ERR_TIMEOUT] = 2;
    s->status[200] = 990;
    s->status[503] = 10;
    s->handshakes = 5;
    s->resumed = 4;
    strcpy(s->note, "certificate verify failed: self-signed certificate");
    for (uint64_t v = 1; v <= 1000; v++)
        hdr_record(&s->latency, v * v);
}

TEST(round_trip_is_exact)
{
    fill(&a);
    json_t *msg = lt_stats_encode(&a, 1, 25);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_t *back = json_loads(text, 0, NULL); /* through the wire's text, as the channel does */
    lt_stats_init(&b);
    CHECK_EQ(lt_stats_decode_add(&b, back), 0);
    CHECK_EQ(b.requests, 1000);
    CHECK_EQ(b.handshakes, 5);
    CHECK_EQ(b.resumed, 4);
    CHECK_STR(b.note, a.note);
    CHECK_EQ(b.bytes, 123456);
    CHECK_EQ(b.unfinished, 3);
    CHECK(memcmp(b.errors, a.errors, sizeof a.errors) == 0);
    CHECK(memcmp(b.status, a.status, sizeof a.status) == 0);
    CHECK(memcmp(b.latency.counts, a.latency.counts, sizeof a.latency.counts) == 0);
    CHECK_EQ(b.latency.min, 1);
    CHECK_EQ(b.latency.max, 1000000);
    CHECK_EQ(b.latency.sum, a.latency.sum);
    CHECK_EQ(hdr_value_at_percentile(&b.latency, 99), hdr_value_at_percentile(&a.latency, 99));
    CHECK(json_is_true(json_object_get(back, "final")));
    CHECK_EQ(json_integer_value(json_object_get(back, "open")), 25);
    /* Twice: counts add up, min and max stay exact. */
    CHECK_EQ(lt_stats_decode_add(&b, back), 0);
    CHECK_EQ(b.requests, 2000);
    CHECK_EQ(b.latency.total, 2000);
    CHECK_EQ(b.latency.min, 1);
    CHECK_EQ(b.latency.max, 1000000);
    free(text);
    json_decref(back);
    json_decref(msg);
}

TEST(malformed_reports_add_nothing)
{
    fill(&a);
    json_t *good = lt_stats_encode(&a, 0, 1);
    struct {
        const char *key;
        json_t *value;
    } bad[] = {
        {"req", json_integer(-1)},
        {"req", json_string("12")},
        {"bytes", NULL},
        {"err", json_pack("[i,i]", 1, 2)}, /* not one count per kind */
        {"err", json_pack("[i,i,i,i,i,i,i,i,i,i]", 0, 0, 0, 0, 0, 0, 0, 0, 0, -4)},
        {"tls", json_pack("[i]", 1)}, /* handshakes without resumed */
        {"tls", json_pack("[i,i]", 1, -1)},
        {"note", json_integer(3)},
        {"st", json_pack("{s:i}", "abc", 1)}, /* not a status code */
        {"st", json_pack("{s:i}", "700", 1)}, /* out of range */
        {"st", json_pack("{s:i}", "200", -1)},
        {"h", json_pack("[i]", 3)},                /* odd: an index without its count */
        {"h", json_pack("[i,i]", HDR_BUCKETS, 1)}, /* no such bucket */
        {"h", json_pack("[i,i]", 10, -1)},
        {"h", json_object()},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *msg = json_deep_copy(good);
        if (bad[i].value == NULL)
            json_object_del(msg, bad[i].key);
        else
            json_object_set_new(msg, bad[i].key, bad[i].value);
        lt_stats_init(&b);
        CHECK_EQ(lt_stats_decode_add(&b, msg), -1);
        CHECK_EQ(b.requests, 0);
        CHECK_EQ(b.latency.total, 0);
        CHECK_EQ(lt_stats_errors(&b), 0);
        CHECK_EQ(b.status[200], 0);
        json_decref(msg);
    }
    json_decref(good);
}

TEST(config)
{
    lt_child_config_t c = {
        .port = 8080, .connections = 25, .budget = 7, .rate = 12.5, .timeout_ms = 2000, .index = 2};
    lt_child_config_t d;
    char request[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na\0b";
    strcpy(c.ip, "127.0.0.1");
    strcpy(c.host, "example.test");
    c.tls = 1;
    c.request = request;
    c.request_len = sizeof request - 1; /* a body may hold a NUL byte */
    json_t *msg = lt_child_config_encode(&c);
    CHECK_EQ(lt_child_config_decode(&d, msg), 0);
    CHECK_STR(d.ip, c.ip);
    CHECK_STR(d.host, c.host);
    CHECK_EQ(d.tls, 1);
    CHECK_EQ(d.insecure, 0);
    CHECK_EQ(d.request_len, c.request_len);
    CHECK(memcmp(d.request, c.request, c.request_len) == 0);
    lt_child_config_free(&d);
    CHECK_EQ(d.port, 8080);
    CHECK_EQ(d.connections, 25);
    CHECK_EQ(d.budget, 7);
    CHECK(d.rate == 12.5);
    CHECK_EQ(d.timeout_ms, 2000);
    CHECK_EQ(d.index, 2);
    json_object_set_new(msg, "request", json_string(""));
    CHECK_EQ(lt_child_config_decode(&d, msg), -1);
    json_object_set_new(msg, "request", json_string("GET / HTTP/1.1\r\n\r\n"));
    json_object_set_new(msg, "connections", json_integer(0));
    CHECK_EQ(lt_child_config_decode(&d, msg), -1);
    json_object_set_new(msg, "connections", json_integer(LT_MAX_CONNECTIONS + 1));
    CHECK_EQ(lt_child_config_decode(&d, msg), -1);
    json_object_set_new(msg, "connections", json_integer(1));
    json_object_set_new(msg, "t", json_string("stats"));
    CHECK_EQ(lt_child_config_decode(&d, msg), -1);
    json_decref(msg);
}

int main(int argc, char **argv)
{
    (void)check_loop_close_; /* pure computation: no loop to close here */
    RUN(round_trip_is_exact);
    RUN(malformed_reports_add_nothing);
    RUN(config);
    return check_done();
}
