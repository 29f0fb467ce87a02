// LLVMFuzzerInitialize for the targets whose inputs cover tens of thousands of edges and features
// (soc_sigma_fuzz, soc_store_fuzz; CMakeLists.txt's ENTROPIC_OFF): libFuzzer 14's entropic
// schedule walks its list of rare features (all of them, until each has been seen 255 times) for
// every feature of every run, 80–90% of their time (perf, tests/fuzz/README.md).
//
// libFuzzer reads its flags after this call, from the argv it leaves: "-entropic=0" goes first
// so that a later -entropic=1 on the command line still wins (the last of a flag counts).

#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static std::vector<char*> args;
  static char entropic_off[] = "-entropic=0";
  args.assign(*argv, *argv + *argc);
  args.insert(args.begin() + 1, entropic_off);
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size()) - 1;
  *argv = args.data();
  return 0;
}
