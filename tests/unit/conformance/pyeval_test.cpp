// The %{ }% evaluator: the Python forms the corpus's asserts use.
#include "pyeval.hpp"

#include <gtest/gtest.h>

namespace sp::drill {
namespace {

PyEnv env_with_cwnd(std::int64_t cwnd) {
  PyEnv env;
  env.vars["tcpi_snd_cwnd"] = PyValue::of(cwnd);
  env.vars["tcpi_ca_state"] = PyValue::of(3);
  env.vars["TCP_CA_Recovery"] = PyValue::of(3);
  return env;
}

TEST(DrillPyEval, AssertThatHoldsPasses) {
  PyEnv env = env_with_cwnd(10);
  EXPECT_TRUE(py_exec(" assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd ", env).ok());
}

TEST(DrillPyEval, FailingAssertReportsItsMessageValue) {
  PyEnv env = env_with_cwnd(12);
  PyOutcome o = py_exec("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd", env);
  EXPECT_EQ(o.kind, PyOutcome::Kind::kAssertionFailed);
  EXPECT_EQ(o.message, "AssertionError: 12");
}

TEST(DrillPyEval, ChainedComparisonNeedsBothSides) {
  PyEnv env;
  env.vars["tcpi_rtt"] = PyValue::of(25000);
  EXPECT_TRUE(py_exec("assert 5000 <= tcpi_rtt <= 30000", env).ok());
  EXPECT_FALSE(py_exec("assert 5000 <= tcpi_rtt <= 20000", env).ok());
}

TEST(DrillPyEval, PercentFormattingBuildsTheMessage) {
  PyEnv env = env_with_cwnd(7);
  PyOutcome o = py_exec("assert tcpi_snd_cwnd == 10, 'cwnd=%d' % tcpi_snd_cwnd", env);
  EXPECT_EQ(o.message, "AssertionError: cwnd=7");
  o = py_exec("assert 0, 'a: %d b: %s' % (tcpi_snd_cwnd, 'x')", env);
  EXPECT_EQ(o.message, "AssertionError: a: 7 b: x");
}

TEST(DrillPyEval, VariablesPersistAcrossBlocksWithAugmentedAssignment) {
  PyEnv env = env_with_cwnd(58);
  EXPECT_TRUE(py_exec("print(tcpi_snd_cwnd); cwnd = 58; assert tcpi_snd_cwnd == cwnd", env).ok());
  env.vars["tcpi_snd_cwnd"] = PyValue::of(59);
  EXPECT_TRUE(py_exec("cwnd += 1; assert tcpi_snd_cwnd == cwnd, tcpi_snd_cwnd", env).ok());
  ASSERT_EQ(env.printed.size(), 1u);
  EXPECT_EQ(env.printed[0], "58");
}

TEST(DrillPyEval, MultiLineBlockWithCommentsAndContinuations) {
  PyEnv env = env_with_cwnd(3);
  const char* code =
      "\nassert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state  # in recovery\n"
      "assert tcpi_snd_cwnd == 3, \\\n   tcpi_snd_cwnd\nTCP_INFINITE_SSTHRESH = 0x7fffffff\n";
  EXPECT_TRUE(py_exec(code, env).ok());
  EXPECT_EQ(env.vars["TCP_INFINITE_SSTHRESH"].i, 0x7fffffff);
}

TEST(DrillPyEval, FailureNamesTheLineWithinTheBlock) {
  PyEnv env = env_with_cwnd(3);
  PyOutcome o =
      py_exec("assert tcpi_snd_cwnd == 3\nassert tcpi_snd_cwnd == 4, tcpi_snd_cwnd\n", env);
  EXPECT_EQ(o.line, 2);
  EXPECT_EQ(o.statement, "assert tcpi_snd_cwnd == 4, tcpi_snd_cwnd");
}

TEST(DrillPyEval, ArithmeticFollowsPythonRules) {
  PyEnv env;
  EXPECT_TRUE(
      py_exec("assert 7 // 2 == 3 and -7 // 2 == -4 and 7 % 3 == 1 and 2 + 3 * 4 == 14", env).ok());
  EXPECT_TRUE(
      py_exec("assert (1 | 2) == 3 and not 0 and (0 or 5) == 5 and 7 / 2 == 3.5", env).ok());
}

TEST(DrillPyEval, UnknownNameIsANameError) {
  PyEnv env;
  PyOutcome o = py_exec("assert tcpi_bogus == 1", env);
  EXPECT_EQ(o.kind, PyOutcome::Kind::kError);
  EXPECT_EQ(o.message, "NameError: name 'tcpi_bogus' is not defined");
}

TEST(DrillPyEval, ControlFlowIsReportedUnsupported) {
  PyEnv env;
  PyOutcome o = py_exec("if 1: pass", env);
  EXPECT_EQ(o.kind, PyOutcome::Kind::kUnsupported);
}

}  // namespace
}  // namespace sp::drill
