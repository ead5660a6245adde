import ArgumentParser
import Foundation
import SeqModels
import Tasks

/// `seqmodels bench …`: speed measurements next to PyTorch.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed next to PyTorch on the same machine.",
        subcommands: [LSTMBench.self]
    )
}

/// `seqmodels bench lstm`: tokens/s of the LSTM, inference and training, next to PyTorch.
struct LSTMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "LSTM tokens/s (inference; forward+backward+Adam) next to PyTorch, interleaved in one run.",
        discussion: """
        Shapes: (a) uni 1x128 I=128 B=32 T=35; (b) uni 2x256 I=128 B=32 T=35; (c) bi 1x128 I=100 B=32 T=25;
        (d) bi 1x256 I=100 B=64 T=200; (e) bi 1x128 I=100 B=32, lengths uniform in [5,50], packed;
        (e=) the same number of tokens in equal-length batches; (f) latency of one 20-token sentence, bi 1x128.
        PyTorch runs in a worker process (Tools/bench_lstm_pytorch.py) that this command starts; each round
        times SeqModels then PyTorch on the same shape, so both see the same machine load. Medians are printed.
        Build in release: swift build -c release && .build/release/seqmodels bench lstm
        """
    )

    @Option(name: .long, parsing: .upToNextOption, help: "Thread counts to measure (BLAS threads / torch.set_num_threads).")
    var threads: [Int] = [1, 2]

    @Option(name: .long, help: "Measurement rounds per shape (each round alternates SeqModels and PyTorch).")
    var rounds: Int = 5

    @Option(name: .long, help: "Approximate seconds per side per round.")
    var roundSeconds: Double = 0.3

    @Option(name: .long, help: "Comma-separated shape keys to run (a,b,c,d,e,e=,f).")
    var shapes: String = "a,b,c,d,e,e=,f"

    @Option(name: .long, help: "Comma-separated modes to run (inference,training); (f) is inference only.")
    var modes: String = "inference,training"

    @Option(name: .long, help: "Python interpreter with torch installed.")
    var python: String = "python3"

    @Option(name: .long, help: "Path of Tools/bench_lstm_pytorch.py (found next to the sources by default).")
    var pytorchScript: String?

    @Flag(name: .long, help: "Measure SeqModels only.")
    var noPytorch = false

    func validate() throws {
        guard threads.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--threads needs positive counts") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    }

    func run() throws {
        #if DEBUG
        say("warning: this is a debug build; measure speed with a release build (swift build -c release).")
        #endif
        let wanted = Set(shapes.split(separator: ",").map(String.init))
        let selected = LSTMBenchmarkShape.standard(seed: 2024).filter { wanted.contains($0.key) }
        guard !selected.isEmpty else { throw ValidationError("no known shape in --shapes \(shapes)") }
        let wantedModes = Set(modes.split(separator: ",").map(String.init))
        guard !wantedModes.isEmpty, wantedModes.isSubset(of: ["inference", "training"]) else {
            throw ValidationError("--modes takes inference, training or both, got \(modes)")
        }

        var worker: PyTorchWorker?
        if !noPytorch {
            do {
                worker = try PyTorchWorker(python: python, script: try locateScript())
                say("PyTorch \(worker!.version) worker started.")
            } catch {
                say("PyTorch side unavailable (\(error)); printing SeqModels only.")
            }
        }
        ComputeReport().lines.forEach(say)
        let peak = FMAPeak.measure()
        say(peak.description)
        for threadCount in threads {
            BLAS.setThreadCount(threadCount)
            say("\n== \(threadCount) thread\(threadCount == 1 ? "" : "s") ==")
            say(pad("shape", 44) + pad("mode", 11) + lpad("SeqModels", 13) + lpad("GFLOP/s", 9) + lpad("of peak", 9)
                  + lpad("PyTorch", 13) + lpad("GFLOP/s", 9) + lpad("ratio", 8))
            var perTokenTraining: [String: Double] = [:]
            var perTokenInference: [String: Double] = [:]
            for shape in selected {
                var runner = SeqModelsLSTMRunner(shape: shape)
                for training in shape.inferenceOnly ? [false] : [false, true]
                where wantedModes.contains(training ? "training" : "inference") {
                    let warm = timeSeconds { training ? runner.runTraining() : runner.runInference() }
                    let iterations = max(1, min(200, Int(roundSeconds / max(warm, 1e-5))))
                    var ours: [Double] = [], theirs: [Double] = []
                    for _ in 0..<rounds {
                        for _ in 0..<iterations {
                            ours.append(timeSeconds { training ? runner.runTraining() : runner.runInference() })
                        }
                        if let w = worker {
                            theirs += try w.measure(shape, training: training, threads: threadCount, iterations: iterations)
                        }
                    }
                    let flops = training ? shape.trainingFlops : shape.forwardFlops
                    let t = median(ours), p = theirs.isEmpty ? nil : median(theirs)
                    if training { perTokenTraining[shape.key] = t / Double(shape.tokens) } else { perTokenInference[shape.key] = t / Double(shape.tokens) }
                    let mode = training ? "training" : "inference"
                    if shape.inferenceOnly {
                        say(pad("(\(shape.key)) \(shape.summary)", 44) + pad("latency", 11)
                              + lpad(String(format: "%.3f ms", t * 1e3), 13) + lpad(String(format: "%.1f", flops / t / 1e9), 9)
                              + lpad(peak.share(flops / t / 1e9, threads: threadCount), 9)
                              + lpad(p.map { String(format: "%.3f ms", $0 * 1e3) } ?? "-", 13)
                              + lpad(p.map { String(format: "%.1f", flops / $0 / 1e9) } ?? "-", 9)
                              + lpad(p.map { String(format: "%.2fx", $0 / t) } ?? "-", 8))
                    } else {
                        let tokens = Double(shape.tokens)
                        say(pad("(\(shape.key)) \(shape.summary)", 44) + pad(mode, 11)
                              + lpad(String(format: "%.0f tok/s", tokens / t), 13) + lpad(String(format: "%.1f", flops / t / 1e9), 9)
                              + lpad(peak.share(flops / t / 1e9, threads: threadCount), 9)
                              + lpad(p.map { String(format: "%.0f tok/s", tokens / $0) } ?? "-", 13)
                              + lpad(p.map { String(format: "%.1f", flops / $0 / 1e9) } ?? "-", 9)
                              + lpad(p.map { String(format: "%.2fx", $0 / t) } ?? "-", 8))
                    }
                }
            }
            for (name, table) in [("training", perTokenTraining), ("inference", perTokenInference)] {
                if let packed = table["e"], let equal = table["e="] {
                    say(String(format: "packed (e) vs equal-length (e=) time per real token, %@: %.3fx", name, packed / equal))
                }
            }
        }
        say("\nratio = PyTorch time / SeqModels time (above 1: SeqModels is faster). Medians of \(rounds) rounds.")
        say("of peak = SeqModels' GFLOP/s / (the FMA peak of one core x threads).")
    }

    private func locateScript() throws -> String {
        if let path = pytorchScript { return path }
        let candidates = [
            FileManager.default.currentDirectoryPath + "/Tools/bench_lstm_pytorch.py",
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Tools/bench_lstm_pytorch.py").path,
        ]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw TaskError("Tools/bench_lstm_pytorch.py not found; pass --pytorch-script PATH")
        }
        return found
    }
}

/// The peak multiply-add rate of one core, measured with the widest vectors the processor runs
/// (`Kernels.measuredPeakGFLOPS`): the yardstick for the LSTM's GFLOP/s.
struct FMAPeak: CustomStringConvertible {
    let build: String
    let gflops: Double

    static func measure() -> FMAPeak {
        let build = Kernels.runnableBuilds.last ?? "baseline"
        return FMAPeak(build: build, gflops: Kernels.measuredPeakGFLOPS(build: build, seconds: 0.5) ?? .nan)
    }

    var description: String {
        String(format: "FMA peak of one core: %.1f GFLOP/s (%@ vectors, registers only)", gflops, build)
    }

    /// `rate` as a percentage of the peak of `threads` cores.
    func share(_ rate: Double, threads: Int) -> String {
        gflops.isFinite ? String(format: "%.0f%%", 100 * rate / (gflops * Double(threads))) : "-"
    }
}

private func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

private func lpad(_ s: String, _ width: Int) -> String {
    s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
}

/// Prints a line and flushes it at once, so progress shows up in pipes and log files too.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
