// Host microbenchmarks of the coroutine machinery: executor round trips and Task frames.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "corvisor/frame_pool.hpp"
#include "corvisor/task.hpp"
#include "exec/executor.hpp"

namespace {

using corvisor::Event;
using corvisor::Executor;
using corvisor::Task;

// Waits on `ev` forever, counting wake-ups: the shape of a vCPU waiting for a device.
Task<> waiter(Executor& ex, Event& ev, std::uint64_t& wakes) {
    for (;;) {
        co_await ev.wait(ex);
        ev.reset();
        ++wakes;
    }
}

// (c) Event::set posts the suspended coroutine; run_one resumes it until it waits again.
void BM_Executor_EventSetRunOne(benchmark::State& state) {
    Executor ex;
    Event ev;
    std::uint64_t wakes = 0;
    Task<> t = waiter(ex, ev, wakes);
    if (!t.valid()) {
        state.SkipWithError("frame pool exhausted");
        return;
    }
    corvisor::RunNode start;
    start.handle = t.handle();
    ex.post(start);
    ex.run_one();  // runs to the first wait
    for (auto _ : state) {
        ev.set();
        ex.run_one();
    }
    if (wakes != static_cast<std::uint64_t>(state.iterations())) {
        state.SkipWithError("lost a wake-up");
    }
}
BENCHMARK(BM_Executor_EventSetRunOne);

Task<int> add_one(int x) {
    co_return x + 1;
}

// (d) Create a Task<int> (frame from the pool), run it to co_return, read the value, free it.
void BM_Task_CreateComplete(benchmark::State& state) {
    int x = 0;
    const std::uint64_t before = corvisor::current_frame_pool().allocations();
    for (auto _ : state) {
        Task<int> t = add_one(x);
        t.handle().resume();
        x = t.handle().promise().value() & 0xffff;
        benchmark::DoNotOptimize(x);
    }
    if (corvisor::current_frame_pool().allocations() - before !=
        static_cast<std::uint64_t>(state.iterations())) {
        state.SkipWithError("unexpected frame allocation count");
    }
}
BENCHMARK(BM_Task_CreateComplete);

Task<int> outer(int x) {
    co_return co_await add_one(x) + 1;
}

// (d) Two frames and a symmetric transfer each way: a Task<int> awaiting another.
void BM_Task_AwaitChain(benchmark::State& state) {
    int x = 0;
    for (auto _ : state) {
        Task<int> t = outer(x);
        t.handle().resume();
        x = t.handle().promise().value() & 0xffff;
        benchmark::DoNotOptimize(x);
    }
}
BENCHMARK(BM_Task_AwaitChain);

}  // namespace
