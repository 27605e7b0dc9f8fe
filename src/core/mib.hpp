// SNMP MIB counters, named like Linux's /proc/net/snmp (Tcp*, Ip*) and
// /proc/net/netstat (TcpExt*). The enum is the list; mib.cpp has the names.
#pragma once
#include <array>
#include <cstdint>
#include <string_view>

namespace sp {

// One counter list, laid out by hand for reading.
// clang-format off
#define SP_MIB_LIST(X)                                                                   \
  X(IpInReceives) X(IpInHdrErrors) X(IpInAddrErrors) X(IpInDelivers) X(IpOutRequests)   \
  X(IpOutNoRoutes) X(IpInDiscards) X(IpOutDiscards) X(IpInUnknownProtos)                \
  X(IpReasmFails) X(IpFragFails) X(IpExtInTruncatedPkts)                                \
  X(IcmpInMsgs) X(IcmpInErrors) X(IcmpInEchos) X(IcmpOutEchoReps) X(IcmpInDestUnreachs)  \
  X(IcmpOutMsgs)                                                                        \
  X(TcpActiveOpens) X(TcpPassiveOpens) X(TcpAttemptFails) X(TcpEstabResets)             \
  X(TcpCurrEstab) X(TcpInSegs) X(TcpOutSegs) X(TcpRetransSegs) X(TcpInErrs)             \
  X(TcpOutRsts) X(TcpInCsumErrors)                                                      \
  X(TcpExtSyncookiesSent) X(TcpExtSyncookiesRecv) X(TcpExtSyncookiesFailed)             \
  X(TcpExtEmbryonicRsts) X(TcpExtPruneCalled) X(TcpExtRcvPruned) X(TcpExtOfoPruned)    \
  X(TcpExtTW) X(TcpExtTWRecycled) X(TcpExtTWKilled) X(TcpExtPAWSActive)                 \
  X(TcpExtPAWSEstab) X(TcpExtDelayedACKs) X(TcpExtDelayedACKLocked)                     \
  X(TcpExtDelayedACKLost) X(TcpExtListenOverflows) X(TcpExtListenDrops)                 \
  X(TcpExtTCPHPHits) X(TcpExtTCPPureAcks) X(TcpExtTCPHPAcks) X(TcpExtTCPRenoRecovery)   \
  X(TcpExtTCPSackRecovery) X(TcpExtTCPSACKReneging) X(TcpExtTCPSACKReorder)             \
  X(TcpExtTCPRenoReorder) X(TcpExtTCPTSReorder) X(TcpExtTCPFullUndo)                    \
  X(TcpExtTCPPartialUndo) X(TcpExtTCPDSACKUndo) X(TcpExtTCPLossUndo)                    \
  X(TcpExtTCPLostRetransmit) X(TcpExtTCPRenoFailures) X(TcpExtTCPSackFailures)          \
  X(TcpExtTCPLossFailures) X(TcpExtTCPFastRetrans) X(TcpExtTCPSlowStartRetrans)         \
  X(TcpExtTCPTimeouts) X(TcpExtTCPLossProbes) X(TcpExtTCPLossProbeRecovery)             \
  X(TcpExtTCPRenoRecoveryFail) X(TcpExtTCPSackRecoveryFail) X(TcpExtTCPRcvCollapsed)    \
  X(TcpExtTCPDSACKOldSent) X(TcpExtTCPDSACKOfoSent) X(TcpExtTCPDSACKRecv)               \
  X(TcpExtTCPDSACKOfoRecv) X(TcpExtTCPAbortOnData) X(TcpExtTCPAbortOnClose)             \
  X(TcpExtTCPAbortOnMemory) X(TcpExtTCPAbortOnTimeout) X(TcpExtTCPAbortOnLinger)        \
  X(TcpExtTCPAbortFailed) X(TcpExtTCPMemoryPressures) X(TcpExtTCPMemoryPressuresChrono)     \
  X(TcpExtTCPSpuriousRTOs)                                                              \
  X(TcpExtTCPSACKDiscard) X(TcpExtTCPDSACKIgnoredOld) X(TcpExtTCPDSACKIgnoredNoUndo)          \
  X(TcpExtTCPBacklogDrop) X(TcpExtTCPMinTTLDrop) X(TcpExtTCPDeferAcceptDrop)            \
  X(TcpExtTCPTimeWaitOverflow) X(TcpExtTCPReqQFullDrop) X(TcpExtTCPReqQFullDoCookies)  \
  X(TcpExtTCPRetransFail)                                                               \
  X(TcpExtTCPRcvCoalesce) X(TcpExtTCPOFOQueue) X(TcpExtTCPOFODrop) X(TcpExtTCPOFOMerge) \
  X(TcpExtTCPChallengeACK) X(TcpExtTCPSYNChallenge) X(TcpExtTCPSpuriousRtxHostQueues)   \
  X(TcpExtTCPAutoCorking) X(TcpExtTCPFromZeroWindowAdv) X(TcpExtTCPToZeroWindowAdv)     \
  X(TcpExtTCPWantZeroWindowAdv) X(TcpExtTCPSynRetrans) X(TcpExtTCPOrigDataSent)         \
  X(TcpExtTCPKeepAlive) X(TcpExtTCPWinProbe) X(TcpExtTCPAckCompressed)                  \
  X(TcpExtTCPZeroWindowDrop) X(TcpExtTCPRcvQDrop) X(TcpExtTCPDelivered)                 \
  X(TcpExtTCPACKSkippedSeq) X(TcpExtTCPACKSkippedChallenge) X(TcpExtTCPWqueueTooBig)    \
  X(TcpExtPAWSOldAck) X(TcpExtTCPRcvQFull) X(TcpExtTCPMTUPFail) X(TcpExtTCPMTUPSuccess) \
  X(TcpExtBeyondWindow) X(TcpExtTSECRRejected) X(TcpExtOutOfWindowIcmps)                \
  X(TcpExtLockDroppedIcmps) X(TcpExtTCPACKSkippedSynRecv) X(TcpExtTCPSackMerged)        \
  X(TcpExtTCPSackShifted) X(TcpExtTCPSackShiftFallback)                                \
  X(TcpExtTCPDSACKIgnoredDubious) X(TcpExtTCPDSACKRecvSegs) X(TcpExtTCPDeliveredCE)     \
  X(TcpExtTCPHystartTrainDetect) X(TcpExtTCPHystartTrainCwnd)                           \
  X(TcpExtTCPHystartDelayDetect) X(TcpExtTCPHystartDelayCwnd)                           \
  X(TcpExtTCPACKSkippedPAWS) X(TcpExtTCPACKSkippedFinWait2) X(TcpExtTCPACKSkippedTimeWait)
// clang-format on

enum class MibId : std::uint16_t {
#define SP_MIB_ENUM(n) n,
  SP_MIB_LIST(SP_MIB_ENUM)
#undef SP_MIB_ENUM
      kCount
};

struct Mib {
  std::array<std::uint64_t, static_cast<std::size_t>(MibId::kCount)> v{};
  void inc(MibId id, std::uint64_t n = 1) { v[static_cast<std::size_t>(id)] += n; }
  void dec(MibId id) { v[static_cast<std::size_t>(id)] -= 1; }
  std::uint64_t get(MibId id) const { return v[static_cast<std::size_t>(id)]; }
  static std::string_view name(MibId id);
};

}  // namespace sp
