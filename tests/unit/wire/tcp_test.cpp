#include "wire/tcp.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "trace.hpp"

namespace sp {
namespace {

using test::Bytes;
using test::bytes;
using test::cat;
using test::opts;

// A 20-byte header with the given doff byte and options appended.
Bytes header_with(const Bytes& options, int doff = -1) {
  Bytes h = test::tcp(".", 1, 2, 3);
  h.resize(kTcpMinHeaderLen);
  if (doff < 0) doff = static_cast<int>((kTcpMinHeaderLen + options.size()) / 4);
  h[12] = static_cast<std::uint8_t>(doff << 4);
  return cat(h, options);
}

WireError parse_opts(const Bytes& raw, TcpOptions* o) {
  return tcp_parse_options(raw, o);
}

Bytes write_opts(const TcpOptions& o) {
  Bytes b(tcp_options_size(o));
  EXPECT_EQ(tcp_options_write(b.data(), o), b.size());
  return b;
}

// --- header -----------------------------------------------------------------

TEST(TcpHeader, fields_read_back_as_written) {
  Bytes seg = test::tcp("S.E", 0xdeadbeef, 0x01020304, 29200, {}, 7);
  auto v = TcpView::parse(seg);
  ASSERT_TRUE(v) << to_string(v.error());
  EXPECT_EQ(v->source(), test::kClientPort);
  EXPECT_EQ(v->dest(), test::kServerPort);
  EXPECT_EQ(v->seq(), 0xdeadbeefu);
  EXPECT_EQ(v->ack_seq(), 0x01020304u);
  EXPECT_EQ(v->doff(), 5);
  EXPECT_TRUE(v->syn());
  EXPECT_TRUE(v->ack());
  EXPECT_TRUE(v->ece());
  EXPECT_FALSE(v->fin() || v->rst() || v->psh() || v->urg() || v->cwr());
  EXPECT_EQ(v->window(), 29200);
  EXPECT_EQ(v->payload().size(), 7u);
  EXPECT_EQ(v->payload()[6], 6);
}

TEST(TcpHeader, every_flag_bit_has_its_wire_position) {
  Bytes seg = test::tcp("FSRP.UEW", 0, 0, 0);
  EXPECT_EQ(seg[13], 0xff);
  EXPECT_EQ(test::tcp("F", 0, 0, 0)[13], 0x01);
  EXPECT_EQ(test::tcp("W", 0, 0, 0)[13], 0x80);
}

TEST(TcpHeader, shorter_than_20_bytes_is_too_short) {
  Bytes seg = test::tcp(".", 1, 2, 3);
  seg.resize(19);
  EXPECT_EQ(TcpView::parse(seg).error(), WireError::kTruncated);
}

TEST(TcpHeader, data_offset_below_5_is_bad_data_offset) {
  EXPECT_EQ(TcpView::parse(header_with({}, 4)).error(), WireError::kTcpBadDataOffset);
  EXPECT_EQ(TcpView::parse(header_with({}, 0)).error(), WireError::kTcpBadDataOffset);
}

TEST(TcpHeader, data_offset_past_buffer_is_rejected) {
  EXPECT_EQ(TcpView::parse(header_with(bytes({1, 1, 1}), 6)).error(),
            WireError::kTcpHeaderPastBuffer);
}

TEST(TcpHeader, checksum_emitted_over_payload_verifies_and_detects_a_flipped_bit) {
  Bytes seg = test::tcp("P.", 100, 200, 300, opts().ts(1, 2), 1000);
  EXPECT_TRUE(TcpView::parse(seg)->verify_checksum(test::kClient, test::kServer));
  seg[500] ^= 0x10;
  EXPECT_FALSE(TcpView::parse(seg)->verify_checksum(test::kClient, test::kServer));
}

TEST(TcpHeader, repr_round_trips_through_emit_and_parse) {
  TcpRepr r;
  r.hdr = TcpHeader{1, 2, 3, 4, TCPHDR_ACK | TCPHDR_FIN, 5, 6};
  r.opts = opts().ts(10, 20).sack(100, 200).sack(300, 400);
  Bytes b(r.header_len());
  r.emit(b.data());
  auto back = TcpRepr::parse(b);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->hdr, r.hdr);
  EXPECT_EQ(back->opts, r.opts);
  EXPECT_EQ(TcpView::parse(b)->doff(), (20 + 12 + 20) / 4);
}

// --- Linux's option layouts, byte for byte (tcp_options_write) -----------------

TEST(TcpOptionsLayout, syn_with_everything_is_mss_sackok_ts_nop_wscale) {
  // <mss 1460,sackOK,TS val 7 ecr 0,nop,wscale 7>
  Bytes want = bytes({0x02, 0x04, 0x05, 0xb4,    // MSS 1460
                      0x04, 0x02, 0x08, 0x0a,    // SACK_PERM in the TS word
                      0x00, 0x00, 0x00, 0x07,    // TS val
                      0x00, 0x00, 0x00, 0x00,    // TS ecr
                      0x01, 0x03, 0x03, 0x07});  // NOP, WSCALE 7
  EXPECT_EQ(write_opts(opts().mss(1460).sack_ok().ts(7, 0).wscale(7)), want);
}

TEST(TcpOptionsLayout, syn_without_timestamps_puts_sackok_after_two_nops) {
  // <mss 1460,nop,nop,sackOK,nop,wscale 7>
  Bytes want = bytes({0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03, 0x03, 0x07});
  EXPECT_EQ(write_opts(opts().mss(1460).sack_ok().wscale(7)), want);
}

TEST(TcpOptionsLayout, syn_with_timestamps_but_no_sack_pads_ts_with_two_nops) {
  Bytes want = bytes({0x02, 0x04, 0x05, 0x78, 0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 9, 0, 0, 0, 0});
  EXPECT_EQ(write_opts(opts().mss(1400).ts(9, 0)), want);
}

TEST(TcpOptionsLayout, established_segment_carries_nop_nop_ts) {
  Bytes want = bytes({0x01, 0x01, 0x08, 0x0a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88});
  EXPECT_EQ(write_opts(opts().ts(0x11223344, 0x55667788)), want);
}

TEST(TcpOptionsLayout, sack_blocks_follow_ts_as_nop_nop_sack) {
  // <nop,nop,TS val 1 ecr 2,nop,nop,sack 2 {1000:2000}{3000:4000}>
  Bytes want = bytes({0x01, 0x01, 0x08, 0x0a, 0, 0, 0,    1,    0, 0, 0, 2,  //
                      0x01, 0x01, 0x05, 0x12,                                // SACK, 2 + 16
                      0,    0,    0x03, 0xe8, 0, 0, 0x07, 0xd0,              // 1000:2000
                      0,    0,    0x0b, 0xb8, 0, 0, 0x0f, 0xa0});            // 3000:4000
  EXPECT_EQ(write_opts(opts().ts(1, 2).sack(1000, 2000).sack(3000, 4000)), want);
}

TEST(TcpOptionsLayout, syn_with_mss_and_wscale_only_is_mss_nop_wscale) {
  // <mss 1460,nop,wscale 8>: SACK and timestamps disabled by sysctl.
  EXPECT_EQ(write_opts(opts().mss(1460).wscale(8)),
            bytes({0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x08}));
}

TEST(TcpOptionsLayout, syn_with_mss_and_sack_only_is_mss_nop_nop_sackok) {
  EXPECT_EQ(write_opts(opts().mss(1460).sack_ok()),
            bytes({0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02}));
}

TEST(TcpOptionsLayout, syn_without_wscale_is_mss_sackok_ts) {
  // <mss 1460,sackOK,TS val 5 ecr 6>
  EXPECT_EQ(write_opts(opts().mss(1460).sack_ok().ts(5, 6)),
            bytes({0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0, 0, 0, 5, 0, 0, 0, 6}));
}

TEST(TcpOptionsLayout, mss_alone_is_one_word) {
  EXPECT_EQ(write_opts(opts().mss(536)), bytes({0x02, 0x04, 0x02, 0x18}));
}

TEST(TcpOptionsLayout, sizes_match_linux_aligned_lengths) {
  EXPECT_EQ(tcp_options_size(opts()), 0u);
  EXPECT_EQ(tcp_options_size(opts().mss(1460).sack_ok().ts(1, 0).wscale(7)), 20u);
  EXPECT_EQ(tcp_options_size(opts().mss(1460).sack_ok().wscale(7)), 12u);
  EXPECT_EQ(tcp_options_size(opts().ts(1, 2)), 12u);
  EXPECT_EQ(tcp_options_size(opts().ts(1, 2).sack(1, 2).sack(3, 4).sack(5, 6)), 40u);
  EXPECT_EQ(tcp_options_size(opts().sack(1, 2).sack(3, 4).sack(5, 6).sack(7, 8)), 36u);
}

TEST(TcpOptionsLayout, fastopen_cookie_is_kind_34_padded_with_nops) {
  TcpOptions o;
  o.fastopen = true;
  o.fastopen_len = 6;
  for (int i = 0; i < 6; ++i) o.fastopen_cookie[i] = static_cast<std::uint8_t>(0xa0 + i);
  Bytes want = bytes({34, 8, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5});
  EXPECT_EQ(write_opts(o), want);
  o.fastopen_len = 4;
  EXPECT_EQ(write_opts(o), bytes({34, 6, 0xa0, 0xa1, 0xa2, 0xa3, 0x01, 0x01}));
}

TEST(TcpOptionsLayout, experimental_fastopen_carries_the_magic) {
  TcpOptions o;
  o.fastopen = true;
  o.fastopen_exp = true;  // a cookie request: no cookie
  EXPECT_EQ(write_opts(o), bytes({254, 4, 0xf9, 0x89}));
}

// --- parsing -------------------------------------------------------------------

TEST(TcpOptionsParse, linux_syn_options_parse_to_their_values) {
  TcpOptions o;
  ASSERT_EQ(parse_opts(write_opts(opts().mss(1460).sack_ok().ts(7, 0).wscale(7)), &o),
            WireError::kOk);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_ok);
  EXPECT_TRUE(o.saw_tstamp);
  EXPECT_EQ(o.ts_val, 7u);
  EXPECT_EQ(o.ts_ecr, 0u);
  EXPECT_TRUE(o.wscale_ok);
  EXPECT_EQ(o.wscale, 7);
  EXPECT_EQ(o.num_sacks, 0);
}

TEST(TcpOptionsParse, sack_blocks_are_read_in_order) {
  TcpOptions o;
  ASSERT_EQ(parse_opts(write_opts(opts().sack(1, 2).sack(3, 4).sack(5, 6).sack(7, 8)), &o),
            WireError::kOk);
  ASSERT_EQ(o.num_sacks, 4);
  EXPECT_EQ(o.sacks[0], (TcpSackBlock{1, 2}));
  EXPECT_EQ(o.sacks[3], (TcpSackBlock{7, 8}));
}

TEST(TcpOptionsParse, eol_ends_the_list) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({0, 2, 4, 5, 0xb4}), &o), WireError::kOk);
  EXPECT_EQ(o.mss, 0);
}

TEST(TcpOptionsParse, unknown_kind_is_skipped_by_its_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({99, 4, 0xaa, 0xbb, 2, 4, 0x05, 0xb4}), &o), WireError::kOk);
  EXPECT_TRUE(o.saw_unknown);
  EXPECT_EQ(o.mss, 1460);
}

TEST(TcpOptionsParse, md5_signature_is_recognised_by_length) {
  Bytes md5 = bytes({1, 1, 19, 18});
  md5.resize(20, 0x5a);
  TcpOptions o;
  EXPECT_EQ(parse_opts(cat(md5, bytes({1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2})), &o), WireError::kOk);
  EXPECT_TRUE(o.saw_md5);
  EXPECT_TRUE(o.saw_tstamp);
}

TEST(TcpOptionsParse, md5_of_wrong_length_is_bad_md5_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({19, 4, 0, 0}), &o), WireError::kTcpBadMd5Length);
  EXPECT_FALSE(o.saw_md5);
}

TEST(TcpOptionsParse, fastopen_cookie_is_taken) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({34, 6, 1, 2, 3, 4, 1, 1}), &o), WireError::kOk);
  EXPECT_TRUE(o.fastopen);
  EXPECT_EQ(o.fastopen_len, 4);
  EXPECT_EQ(o.fastopen_cookie[3], 4);
}

TEST(TcpOptionsParse, fastopen_cookie_of_odd_length_is_rejected) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({34, 7, 1, 2, 3, 4, 5, 1}), &o), WireError::kTcpBadFastOpenLength);
  EXPECT_FALSE(o.fastopen);
}

TEST(TcpOptionsParse, option_length_zero_is_bad_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({2, 0, 5, 0xb4}), &o), WireError::kTcpOptionBadLength);
}

TEST(TcpOptionsParse, option_length_one_is_bad_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({99, 1, 1, 1}), &o), WireError::kTcpOptionBadLength);
}

TEST(TcpOptionsParse, option_running_past_the_header_is_rejected) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({1, 1, 8, 10, 0, 0, 0, 1}), &o), WireError::kTcpOptionPastHeader);
  EXPECT_FALSE(o.saw_tstamp);
}

TEST(TcpOptionsParse, kind_in_the_last_byte_without_length_is_past_header) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({1, 1, 1, 2}), &o), WireError::kTcpOptionPastHeader);
}

TEST(TcpOptionsParse, options_before_a_bad_length_are_kept_as_linux_keeps_them) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({2, 4, 5, 0xb4, 3, 0, 0, 0}), &o), WireError::kTcpOptionBadLength);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_FALSE(o.wscale_ok);
}

TEST(TcpOptionsParse, mss_of_length_3_is_skipped_and_reported) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({2, 3, 5, 1, 3, 3, 7, 0}), &o), WireError::kTcpBadMssLength);
  EXPECT_EQ(o.mss, 0);
  // The walk goes on, as in tcp_parse_options.
  EXPECT_TRUE(o.wscale_ok);
  EXPECT_EQ(o.wscale, 7);
}

TEST(TcpOptionsParse, wscale_of_length_4_is_bad_wscale_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({3, 4, 7, 0}), &o), WireError::kTcpBadWscaleLength);
  EXPECT_FALSE(o.wscale_ok);
}

TEST(TcpOptionsParse, wscale_above_14_is_reported_as_sent) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({1, 3, 3, 15}), &o), WireError::kOk);
  EXPECT_EQ(o.wscale, 15);  // clamping to TCP_MAX_WSCALE is the receiver's job
}

TEST(TcpOptionsParse, sack_permitted_of_length_3_is_bad_sackperm_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({4, 3, 0, 1}), &o), WireError::kTcpBadSackPermLength);
  EXPECT_FALSE(o.sack_ok);
}

TEST(TcpOptionsParse, timestamp_of_length_8_is_bad_timestamp_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({8, 8, 0, 0, 0, 1, 0, 0}), &o), WireError::kTcpBadTimestampLength);
  EXPECT_FALSE(o.saw_tstamp);
}

TEST(TcpOptionsParse, sack_with_a_half_block_is_bad_sack_length) {
  // 2 + 12: one and a half blocks.
  Bytes raw = bytes({1, 1, 5, 14});
  raw.resize(4 + 12, 0);
  TcpOptions o;
  EXPECT_EQ(parse_opts(raw, &o), WireError::kTcpBadSackLength);
  EXPECT_EQ(o.num_sacks, 0);
}

TEST(TcpOptionsParse, sack_with_no_block_is_bad_sack_length) {
  TcpOptions o;
  EXPECT_EQ(parse_opts(bytes({1, 1, 5, 2}), &o), WireError::kTcpBadSackLength);
}

TEST(TcpOptionsParse, second_sack_option_replaces_the_first_whole) {
  Bytes two = write_opts(opts().sack(1, 2).sack(3, 4));
  Bytes one = write_opts(opts().sack(5, 6));
  TcpOptions o;
  ASSERT_EQ(parse_opts(cat(two, one), &o), WireError::kOk);
  EXPECT_EQ(o, TcpOptions(opts().sack(5, 6)));
}

TEST(TcpOptionsParse, second_fastopen_option_replaces_the_first_whole) {
  TcpOptions o;
  ASSERT_EQ(parse_opts(bytes({34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 34, 2}), &o), WireError::kOk);
  EXPECT_TRUE(o.fastopen);
  EXPECT_EQ(o.fastopen_len, 0);
  TcpOptions request;
  request.fastopen = true;
  EXPECT_EQ(o, request);
}

TEST(TcpOptionsParse, repr_parse_reports_option_errors) {
  EXPECT_EQ(TcpRepr::parse(header_with(bytes({2, 0, 0, 0}))).error(),
            WireError::kTcpOptionBadLength);
}

TEST(TcpOptionsParse, parse_of_emitted_options_gives_them_back) {
  TcpOptions sent = opts().mss(536).sack_ok().ts(0xffffffff, 1).wscale(14);
  TcpOptions got;
  ASSERT_EQ(parse_opts(write_opts(sent), &got), WireError::kOk);
  EXPECT_EQ(got, sent);
}

TEST(WireErrors, every_error_has_a_distinct_message) {
  std::set<std::string> seen;
  for (int e = 0; e <= static_cast<int>(WireError::kTcpBadChecksum); ++e) {
    std::string s = to_string(static_cast<WireError>(e));
    EXPECT_FALSE(s.empty());
    EXPECT_TRUE(seen.insert(s).second) << "duplicate message " << s;
  }
}

}  // namespace
}  // namespace sp
