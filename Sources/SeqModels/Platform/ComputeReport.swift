import CKernels
import Foundation

/// What computes here: the processor and its vector extensions, the build of SeqModels' own
/// kernels, the BLAS library with the kernels ("core") it runs, and the thread count.
///
/// Speed depends on all of them, and two of them are picked by software that can guess wrong
/// (see `BLASReport`), so `seqmodels --version` and `seqmodels bench` print this, and training
/// logs print `warning` when there is one. Read once from the running process: `ComputeReport()`.
public struct ComputeReport: Sendable, CustomStringConvertible {
    /// The processor's name as the system gives it, with its family and model on x86
    /// ("AMD EPYC (family 25, model 17)").
    public var processor: String
    /// The vector extensions that matter to SeqModels' kernels and to BLAS, in order of width
    /// ("AVX2", "FMA", "AVX-512F", … on x86-64; "NEON", "SVE" on ARM64).
    public var vectorExtensions: [String]
    /// The build of the hot kernels in use: "avx512", "avx2" or "baseline" (`Kernels.build`).
    public var kernelBuild: String
    /// The builds this processor can run, baseline first (`SEQMODELS_KERNELS` may name any).
    public var runnableKernelBuilds: [String]
    /// The BLAS library and its core.
    public var blas: BLASReport
    /// Threads of one BLAS call (`BLAS.threadCount`), which SeqModels' LSTM follows.
    public var threads: Int

    /// Reads the report off this process and machine.
    public init() {
        let cpu = ProcessorInfo.current()
        processor = cpu.name
        vectorExtensions = cpu.vectorExtensions
        kernelBuild = Kernels.build
        runnableKernelBuilds = Kernels.runnableBuilds
        blas = BLASReport()
        threads = BLAS.threadCount
    }

    /// One line per fact, for `--version` and benchmark headers.
    public var lines: [String] {
        var lines = [
            "processor: \(processor)",
            "vector extensions: \(vectorExtensions.isEmpty ? "none known" : vectorExtensions.joined(separator: " "))",
            "SeqModels kernels: \(kernelBuild) build (runnable: \(runnableKernelBuilds.joined(separator: ", ")); SEQMODELS_KERNELS overrides)",
            "BLAS: \(blas.summary)",
            "threads: \(threads)",
        ]
        if let warning = blas.warning { lines.append("warning: \(warning)") }
        return lines
    }

    public var description: String { lines.joined(separator: "\n") }
}

/// The BLAS library SeqModels multiplies with, and the kernels it runs.
///
/// OpenBLAS picks its kernels ("core") from the processor model when it loads. On a model it does
/// not know it may pick a generic core: Debian 12's OpenBLAS 0.3.21 ran its SSE3 Prescott kernels,
/// at a quarter of the speed, on an Intel Xeon of model 207 with AVX-512. When the library loads,
/// SeqModels replaces such a core by the one the processor's features call for, unless
/// `OPENBLAS_CORETYPE` is set (blas_core.c says how and why); `replacedCore` tells when it did.
public struct BLASReport: Sendable {
    /// "OpenBLAS 0.3.21", "Accelerate", or "unknown BLAS".
    public var library: String
    /// OpenBLAS's build string ("OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …"), when it says one.
    public var configuration: String?
    /// The core in use ("Cooperlake", "Haswell", "Prescott"), when OpenBLAS says.
    public var core: String?
    /// The generic core OpenBLAS had picked and SeqModels replaced when it loaded, if it did.
    public var replacedCore: String?
    /// Whether `core` leaves the processor's AVX2 or AVX-512 unused.
    public var coreIsGeneric: Bool
    /// The core this processor's features call for (SkylakeX, Zen, Haswell), where there is one.
    public var coreForProcessor: String?

    /// Reads what this process runs.
    public init() {
        #if canImport(Accelerate)
        library = "Accelerate"
        configuration = nil
        core = nil
        replacedCore = nil
        coreIsGeneric = false
        coreForProcessor = nil
        #else
        configuration = sm_openblas_config().map { String(cString: $0) }
        core = sm_openblas_core().map { String(cString: $0) }
        replacedCore = sm_openblas_replaced_core().map { String(cString: $0) }
        coreForProcessor = sm_openblas_core_for_processor().map { String(cString: $0) }
        coreIsGeneric = core.map { sm_openblas_core_is_generic($0) != 0 } ?? false
        if let configuration {
            library = configuration.split(separator: " ").prefix(2).joined(separator: " ")
        } else {
            library = "unknown BLAS (not OpenBLAS)"
        }
        #endif
    }

    /// "OpenBLAS 0.3.21, core Cooperlake", with what SeqModels changed.
    public var summary: String {
        var text = library
        if let core { text += ", core \(core)" }
        if let replacedCore, let core {
            text += " (OpenBLAS picked its generic \(replacedCore) core for this processor; SeqModels switched it to \(core))"
        }
        return text
    }

    /// A one-line warning when BLAS runs a generic core on a processor that can do better.
    public var warning: String? {
        guard coreIsGeneric, let core else { return nil }
        let better = coreForProcessor ?? "the processor's own core"
        let cause = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil
            ? "OPENBLAS_CORETYPE asks for it"
            : "SeqModels could not switch it"
        return "BLAS runs OpenBLAS's generic \(core) kernels on a processor with AVX2 or AVX-512 (\(cause)): "
            + "its products run at a fraction of their speed. Unset OPENBLAS_CORETYPE, or set it to \(better)."
    }
}

/// The processor's name and vector extensions, from `/proc/cpuinfo` on Linux.
struct ProcessorInfo {
    var name: String
    var vectorExtensions: [String]

    /// The extensions worth naming, as `/proc/cpuinfo` spells them and as people know them.
    static let knownExtensions: [(flag: String, name: String)] = [
        ("sse4_2", "SSE4.2"), ("avx", "AVX"), ("avx2", "AVX2"), ("fma", "FMA"),
        ("avx512f", "AVX-512F"), ("avx512cd", "AVX-512CD"), ("avx512bw", "AVX-512BW"),
        ("avx512dq", "AVX-512DQ"), ("avx512vl", "AVX-512VL"), ("avx512_vnni", "AVX-512VNNI"),
        ("avx512_bf16", "AVX-512BF16"), ("avx512_fp16", "AVX-512FP16"), ("amx_tile", "AMX"),
        ("asimd", "NEON"), ("asimdhp", "NEON-FP16"), ("sve", "SVE"), ("sve2", "SVE2"),
    ]

    static func current() -> ProcessorInfo {
        #if os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return ProcessorInfo(name: "unknown processor", vectorExtensions: [])
        }
        return parse(cpuinfo: text)
        #else
        return ProcessorInfo(name: sysctlString("machdep.cpu.brand_string") ?? "unknown processor", vectorExtensions: [])
        #endif
    }

    /// Reads the first processor's entry of a `/proc/cpuinfo` text.
    static func parse(cpuinfo text: String) -> ProcessorInfo {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty, !fields.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = value }
        }
        var name = fields["model name"] ?? fields["Model name"] ?? "unknown processor"
        if let family = fields["cpu family"], let model = fields["model"] {
            name += " (family \(family), model \(model))"
        } else if let implementer = fields["CPU implementer"], let part = fields["CPU part"] {
            name = "ARM implementer \(implementer), part \(part)"
        }
        let flags = Set((fields["flags"] ?? fields["Features"] ?? "").split(separator: " ").map(String.init))
        return ProcessorInfo(name: name, vectorExtensions: knownExtensions.filter { flags.contains($0.flag) }.map(\.name))
    }

    #if !os(Linux)
    private static func sysctlString(_ name: String) -> String? {
        var size = 0
        guard sysctlbyname(name, nil, &size, nil, 0) == 0, size > 0 else { return nil }
        var bytes = [CChar](repeating: 0, count: size)
        guard sysctlbyname(name, &bytes, &size, nil, 0) == 0 else { return nil }
        return String(cString: bytes)
    }
    #endif
}
