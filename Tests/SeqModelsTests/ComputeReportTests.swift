import CKernels
import Foundation
@testable import SeqModels
import XCTest

/// What runs: the kernel build chosen by capability or by `SEQMODELS_KERNELS` (and refused when
/// the processor cannot run it), OpenBLAS's core repaired when it is generic on a capable
/// processor, and the report that says so.
final class ComputeReportTests: XCTestCase {
    // MARK: The kernel build

    func testTheBuildInUseIsTheOneAskedForElseTheWidest() {
        let asked = ProcessInfo.processInfo.environment["SEQMODELS_KERNELS"]?.lowercased() ?? ""
        let runnable = Kernels.runnableBuilds
        XCTAssertEqual(runnable.first, "baseline")
        if asked.isEmpty || asked == "auto" {
            XCTAssertEqual(Kernels.build, runnable.last, "the widest build the processor runs, whatever its vendor")
        } else {
            XCTAssertEqual(Kernels.build, asked)
        }
        #if arch(x86_64) && os(Linux)
        let flags = ProcessorInfo.current().vectorExtensions
        XCTAssertEqual(runnable.contains("avx2"), flags.contains("AVX2") && flags.contains("FMA"))
        XCTAssertEqual(runnable.contains("avx512"), ["AVX-512F", "AVX-512BW", "AVX-512VL", "AVX-512DQ", "AVX-512CD"]
            .allSatisfy(flags.contains))
        #endif
    }

    func testEveryRunnableBuildIsAcceptedAndOthersAreRefusedWithTheReason() {
        for (count, name) in ["baseline", "avx2", "avx512"].enumerated().map({ ($0.offset + 1, $0.element) }) {
            XCTAssertNil(Kernels.refusal(ofBuildNamed: name, runnableCount: count), name)
            XCTAssertNil(Kernels.refusal(ofBuildNamed: name.uppercased(), runnableCount: 3), name)
        }
        for auto in [nil, "", "auto"] { XCTAssertNil(Kernels.refusal(ofBuildNamed: auto, runnableCount: 1)) }
        let unrunnable = Kernels.refusal(ofBuildNamed: "avx512", runnableCount: 2)
        XCTAssertEqual(unrunnable?.contains("needs AVX-512"), true, unrunnable ?? "accepted")
        XCTAssertEqual(unrunnable?.contains("it can run: baseline, avx2."), true, unrunnable ?? "accepted")
        let unknown = Kernels.refusal(ofBuildNamed: "sse9", runnableCount: 3)
        XCTAssertEqual(unknown?.hasPrefix("SEQMODELS_KERNELS=sse9 names no build of the kernels"), true, unknown ?? "accepted")
    }

    /// The choice is made when the library loads: a process asked for a build that does not exist
    /// stops there, with the reason and exit status 2, before running anything.
    func testALoadAskingForAnUnknownBuildStopsWithTheReason() throws {
        guard let executable = Bundle.main.executableURL, FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw XCTSkip("the test runner's executable is not at hand to start again")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["SeqModelsTests.ComputeReportTests/testEveryRunnableBuildIsAcceptedAndOthersAreRefusedWithTheReason"]
        var environment = ProcessInfo.processInfo.environment
        environment["SEQMODELS_KERNELS"] = "avx1024"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(message.hasPrefix("SeqModels: SEQMODELS_KERNELS=avx1024 names no build of the kernels"), message)
    }

    func testThePeakProbeMeasuresEveryRunnableBuild() {
        for build in Kernels.runnableBuilds {
            let peak = Kernels.measuredPeakGFLOPS(build: build, seconds: 0.02)
            XCTAssertNotNil(peak, build)
            // Any processor of the last twenty years does more than 1 GFLOP/s with 4-wide vectors.
            XCTAssertGreaterThan(peak ?? 0, 1, build)
        }
        XCTAssertNil(Kernels.measuredPeakGFLOPS(build: "avx1024"))
    }

    // MARK: OpenBLAS's core

    /// The repair the library makes when it loads, made here by hand: OpenBLAS is set to its
    /// generic Prescott core (what Debian's OpenBLAS 0.3.21 picks on an Intel Xeon of model 207),
    /// then repaired, and must multiply right afterwards.
    func testAGenericOpenBLASCoreIsReplacedByTheProcessorsOwn() throws {
        guard let original = sm_openblas_core().map({ String(cString: $0) }) else {
            throw XCTSkip("BLAS is not a DYNAMIC_ARCH OpenBLAS: no core to check")
        }
        guard sm_processor_has_avx2_fma() != 0, let expected = sm_openblas_core_for_processor().map({ String(cString: $0) }) else {
            throw XCTSkip("this processor has no AVX2 and FMA: every OpenBLAS core fits it")
        }
        defer { XCTAssertEqual(sm_openblas_use_core(original), 0, "OpenBLAS set back to \(original)") }
        XCTAssertEqual(sm_openblas_core_is_generic(original), 0,
                       "OpenBLAS runs a generic core after the library loaded: \(original)")

        XCTAssertEqual(sm_openblas_use_core("Prescott"), 0)
        XCTAssertEqual(BLASReport().core, "Prescott")
        XCTAssertTrue(BLASReport().coreIsGeneric)
        let warning = try XCTUnwrap(BLASReport().warning)
        XCTAssertTrue(warning.contains("generic Prescott kernels") && warning.contains(expected), warning)

        XCTAssertEqual(sm_openblas_repair_generic_core(), 1)
        let report = BLASReport()
        XCTAssertEqual(report.core, expected)
        XCTAssertEqual(report.replacedCore, "Prescott")
        XCTAssertNil(report.warning)
        XCTAssertTrue(report.summary.contains("SeqModels switched it to \(expected)"), report.summary)
        XCTAssertNil(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].flatMap { $0 == expected ? $0 : nil },
                     "the environment is left as it was")
        XCTAssertEqual(sm_openblas_repair_generic_core(), 0, "a core that fits is left alone")
        try assertProductIsRight()
    }

    private func assertProductIsRight() throws {
        var generator = SeededGenerator(seed: 3)
        let a = Tensor.uniform([37, 65], low: -1, high: 1, using: &generator)
        let b = Tensor.uniform([65, 29], low: -1, high: 1, using: &generator)
        let product = Tensor.matmul(a, b)
        for i in 0..<37 {
            for j in 0..<29 {
                var exact = 0.0, magnitude = 0.0
                for p in 0..<65 {
                    exact += Double(a[i, p]) * Double(b[p, j])
                    magnitude += abs(Double(a[i, p]) * Double(b[p, j]))
                }
                // A float32 sum of 65 products is within 65·ε·Σ|terms| of the exact sum.
                XCTAssertEqual(Double(product[i, j]), exact, accuracy: 65 * Double(Float.ulpOfOne) * magnitude)
            }
        }
    }

    // MARK: The report

    func testTheProcessorIsReadFromCPUInfo() {
        let intel = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 207
        model name\t: INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz
        flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16 avx512_fp16 amx_tile

        processor\t: 1
        model name\t: another
        """
        let info = ProcessorInfo.parse(cpuinfo: intel)
        XCTAssertEqual(info.name, "INTEL(R) XEON(R) PLATINUM 8581C CPU @ 2.10GHz (family 6, model 207)")
        XCTAssertEqual(info.vectorExtensions, ["SSE4.2", "AVX", "AVX2", "FMA", "AVX-512F", "AVX-512CD", "AVX-512BW",
                                               "AVX-512DQ", "AVX-512VL", "AVX-512VNNI", "AVX-512BF16", "AVX-512FP16", "AMX"])
        let arm = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes sve\nCPU implementer\t: 0x41\nCPU part\t: 0xd40\n"
        let graviton = ProcessorInfo.parse(cpuinfo: arm)
        XCTAssertEqual(graviton.name, "ARM implementer 0x41, part 0xd40")
        XCTAssertEqual(graviton.vectorExtensions, ["NEON", "SVE"])
    }

    func testTheReportNamesEveryPart() {
        let report = ComputeReport()
        let text = report.description
        for part in ["processor: ", "vector extensions: ", "SeqModels kernels: \(Kernels.build) build", "BLAS: ", "threads: "] {
            XCTAssertTrue(text.contains(part), "\(part) missing from\n\(text)")
        }
        #if os(Linux)
        XCTAssertTrue(report.blas.library.hasPrefix("OpenBLAS "), report.blas.library)
        XCTAssertNotNil(report.blas.core)
        #endif
    }
}
