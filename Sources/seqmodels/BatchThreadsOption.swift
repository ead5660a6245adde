import ArgumentParser
import SeqModels

/// `--threads N` for tagging and classifying: N batches at once, each with one BLAS thread.
///
/// Parallelism around BLAS rather than inside it: a whole batch per thread keeps every part of
/// the work (text preparation, the LSTM, pooling, the output layer) busy on every core, where
/// BLAS's threads would only share the products. Never both at once: BLAS is set to one thread.
struct BatchThreadsOption: ParsableArguments {
    @Option(help: "Threads: N batches at once, each with one BLAS thread (default: one batch at a time, BLAS's own threads).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// The number of batches to run at once, after setting BLAS to one thread when `--threads` is given.
    func startWorkers() -> Int {
        guard let threads else { return 1 }
        BLAS.setThreadCount(1)
        return threads
    }
}
