// TCP Reno (RFC 5681): the algorithm that is always available and the
// fallback when the configured default is unknown.
#include "tcp/cong/tcp_cong.hpp"

namespace sp {

// Constant-initialised, so it is usable before any dynamic initialiser runs.
TcpCongestionOps tcp_reno = {
    .name = "reno",
    .flags = TCP_CONG_NON_RESTRICTED,
    .ssthresh = tcp_reno_ssthresh,
    .cong_avoid = tcp_reno_cong_avoid,
    .undo_cwnd = tcp_reno_undo_cwnd,
};

}  // namespace sp
