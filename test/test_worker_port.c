#include "worker_util.h"
TEST(x){uv_loop_t l; uv_loop_init(&l); CHECK_LOOP_CLOSE(&l);}
int main(int argc, char **argv){RUN_W(x);return check_done();}
