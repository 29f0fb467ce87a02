#include <cstdio>
int main() { std::puts("seccloud"); }
