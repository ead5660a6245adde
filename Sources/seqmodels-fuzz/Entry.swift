import Foundation
import FuzzTargets
#if SEQMODELS_FUZZING
import CLibFuzzer
#endif

// `seqmodels-fuzz`: the fuzz targets of `FuzzTargets` as one program.
//
// Built by `Tools/fuzz.sh` with `-sanitize=fuzzer,address` and `-D SEQMODELS_FUZZING`, it is a
// libFuzzer binary: its main hands the command line to libFuzzer's driver, which calls
// `fuzzerTestOneInput` with each input it makes; `SEQMODELS_FUZZ_TARGET` names the target. Built as usual (the package's ordinary build),
// it replays files through a target instead: `seqmodels-fuzz TARGET FILE...`, so that a finding
// can be run again under a debugger without sanitizers.

/// The target named by `SEQMODELS_FUZZ_TARGET`, or the process ends with the list of names.
enum FuzzEntry {
    static let target: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["SEQMODELS_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget.named(name) else {
            FileHandle.standardError.write(Data("seqmodels-fuzz: set SEQMODELS_FUZZ_TARGET to one of: \(FuzzEntry.names) (got '\(name)')\n".utf8))
            exit(2)
        }
        return target
    }()

    static var names: String { FuzzTarget.all.map(\.name).joined(separator: ", ") }
}

#if SEQMODELS_FUZZING
/// Called by libFuzzer once before the first input: an unknown target name stops here, and
/// with `SEQMODELS_FUZZ_SEED_OUTPUT` set the target's own seeds are written to that folder.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    let target = FuzzEntry.target
    if let folder = ProcessInfo.processInfo.environment["SEQMODELS_FUZZ_SEED_OUTPUT"] {
        do {
            for (index, seed) in try target.generatedSeeds().enumerated() {
                try Data(seed).write(to: URL(fileURLWithPath: folder).appendingPathComponent("generated-\(index)"))
            }
        } catch {
            FileHandle.standardError.write(Data("seqmodels-fuzz: cannot write the seeds of \(target.name): \(error)\n".utf8))
            exit(1)
        }
    }
    return 0
}

/// Called by libFuzzer with each input.
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzEntry.target.run(bytes)
    return 0
}
#endif

@main
struct SeqModelsFuzz {
    static func main() {
        #if SEQMODELS_FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzerTestOneInput(data, size) })
        #else
        replay(Array(CommandLine.arguments.dropFirst()))
        #endif
    }

    /// The ordinary build's driver: each file through the target.
    static func replay(_ arguments: [String]) {
        guard let name = arguments.first, name != "--help" else {
            print("usage: seqmodels-fuzz TARGET FILE...   (runs each file through the target)\ntargets:")
            for target in FuzzTarget.all { print("  \(target.name): \(target.summary)") }
            exit(arguments.isEmpty ? 2 : 0)
        }
        guard let target = FuzzTarget.named(name) else {
            FileHandle.standardError.write(Data("seqmodels-fuzz: no target '\(name)'; the targets are \(FuzzEntry.names)\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("seqmodels-fuzz: cannot read \(path)\n".utf8))
                exit(1)
            }
            let refusal = target.refusal(of: Array(data))
            print("\(path): \(refusal.map { "refused: \($0)" } ?? "accepted")")
        }
        FuzzTarget.removeScratchFiles()
    }
}
