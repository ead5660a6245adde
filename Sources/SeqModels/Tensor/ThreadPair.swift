import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A barrier at which the parts of a `ThreadPair` run meet, many times a run: every part
/// calls `wait()` once per round, and what any part wrote before a round's wait is visible
/// to all after it.
///
/// It spins (C `sm_spin_barrier_wait`), since the LSTM's halves meet every few tens of
/// microseconds, where sleeping and waking a thread would cost as much as the work between.
/// After a bounded spin it yields the core at each turn, so a descheduled partner does not
/// keep the waiter burning it.
final class SpinBarrier: @unchecked Sendable {   // the C barrier is built for concurrent waits
    private let barrier: OpaquePointer

    /// A barrier for `parties` threads, or nil when it cannot be allocated.
    init?(parties: Int) {
        guard let barrier = sm_spin_barrier_create(parties) else { return nil }
        self.barrier = barrier
    }

    deinit { sm_spin_barrier_destroy(barrier) }

    /// Returns once every party has called `wait()` in this round.
    func wait() { sm_spin_barrier_wait(barrier) }
}

/// Runs one computation in two parts at once: part 0 on the calling thread, part 1 on a
/// thread started for the call and joined before `run` returns.
///
/// For work split finer than a thread pool can serve: the parts meet at a `SpinBarrier`
/// every step, so they must truly run at the same time. `DispatchQueue.concurrentPerform`
/// may run its iterations one after the other on one thread, where the first part would
/// wait at the barrier for ever.
enum ThreadPair {
    /// Whether `run` can have its two parts at once: this thread may run on a second CPU. False
    /// on a one-CPU machine or a process bound to one CPU (`taskset -c 0`), where `run` returns
    /// `false` and its callers work on one thread.
    static var hasSecondCPU: Bool { sm_second_cpu_allowed() != 0 }

    /// Runs `work(0, barrier)` here and `work(1, barrier)` on a new thread, sharing one
    /// two-party barrier, and returns `true` when both have finished. Returns `false`, having
    /// run neither part, when no thread (or barrier) could be had or no second CPU is allowed:
    /// callers then do the work on one thread.
    static func run(_ work: @escaping @Sendable (_ part: Int, _ barrier: SpinBarrier) -> Void) -> Bool {
        guard let barrier = SpinBarrier(parties: 2) else { return false }
        // The second part runs on another CPU than this one from its start (see sm_thread_attr_avoid_current_cpu).
        var attributes = pthread_attr_t()
        guard pthread_attr_init(&attributes) == 0 else { return false }
        defer { pthread_attr_destroy(&attributes) }
        guard sm_thread_attr_avoid_current_cpu(&attributes) == 0 else { return false }
        let job = Unmanaged.passRetained(Job { work(1, barrier) }).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t? = nil
        let started = pthread_create(&thread, &attributes, { job in
            Unmanaged<Job>.fromOpaque(job).takeRetainedValue().body()
            return nil
        }, job)
        #else
        var thread = pthread_t()
        let started = pthread_create(&thread, &attributes, { job in
            Unmanaged<Job>.fromOpaque(job!).takeRetainedValue().body()
            return nil
        }, job)
        #endif
        guard started == 0 else {
            Unmanaged<Job>.fromOpaque(job).release()
            return false
        }
        work(0, barrier)
        #if canImport(Darwin)
        pthread_join(thread!, nil)
        #else
        pthread_join(thread, nil)
        #endif
        return true
    }

    /// The second part, boxed to cross into the new thread as one pointer.
    private final class Job: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
