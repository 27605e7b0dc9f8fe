#include "report_trace.hpp"

#include <variant>

namespace sp::tools {

namespace {

using trace::Ev;
using trace::ev_bit;

// What the report draws: the sender's state, its losses and limits, drops.
constexpr std::uint64_t kStateEvents =
    ev_bit(Ev::tcp_probe) | ev_bit(Ev::tcp_cong_state_set) | ev_bit(Ev::tcp_recovery_event) |
    ev_bit(Ev::tcp_retransmit_skb) | ev_bit(Ev::inet_sock_set_state) | ev_bit(Ev::kfree_skb) |
    ev_bit(Ev::tcp_write_xmit);
// One skb's trip down the send chain.
constexpr std::uint64_t kChainEvents =
    ev_bit(Ev::sock_sendmsg) | ev_bit(Ev::inet_sendmsg) | ev_bit(Ev::tcp_sendmsg) |
    ev_bit(Ev::tcp_skb_entail) | ev_bit(Ev::tcp_skb_append) | ev_bit(Ev::tcp_push) |
    ev_bit(Ev::tcp_transmit_skb) | ev_bit(Ev::ip_queue_xmit) | ev_bit(Ev::skb_gso_segment) |
    ev_bit(Ev::neigh_output) | ev_bit(Ev::dev_queue_xmit);

const trace::Header& report_header(const trace::AnyEvent& e) {
  return std::visit([](const auto& x) -> const trace::Header& { return x; }, e);
}

}  // namespace

ReportTrace::ReportTrace(std::string stack)
    : stack_(std::move(stack)),
      collector_(stack_),
      sink_(std::make_unique<trace::CallbackSink>(
          kStateEvents | kChainEvents, [this](const trace::AnyEvent& e) { event(e); })) {}

ReportTrace::~ReportTrace() = default;

void ReportTrace::event(const trace::AnyEvent& e) {
  // Other stacks' events, and the chain's once a segment's trip is
  // recorded, cost only this.
  const trace::Header& h = report_header(e);
  if (!stack_.empty() && trace::stack_name(h.stack) != stack_) return;
  if ((ev_bit(h.id) & kChainEvents) && !collector_.wants_send_chain()) return;
  line_ = trace::format_json(e);
  if (report::parse_trace_line(line_, ev_, scratch_).empty()) collector_.add(ev_);
}

report::TraceData ReportTrace::finish() {
  sink_.reset();
  return collector_.finish();
}

}  // namespace sp::tools
