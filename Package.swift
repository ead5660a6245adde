// swift-tools-version:6.0
import PackageDescription

/// Hot C kernels are compiled with optimisation even in debug builds: the test suite
/// runs in debug, where unoptimised elementwise loops are 100x slower than BLAS.
let optimisedC: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno"])]

let package = Package(
    name: "SeqModels",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SeqModels", targets: ["SeqModels"]),
        .library(name: "Corpus", targets: ["Corpus"]),
        .executable(name: "seqmodels", targets: ["seqmodels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `swift package generate-documentation` for the DocC catalogs (a plugin: nothing of it is linked).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS through pkg-config `openblas` on Linux (Debian ships no cblas.pc).
        // On Apple platforms SeqModels imports Accelerate instead.
        .systemLibrary(
            name: "CBLAS",
            path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),
        // Vectorised elementwise kernels (gates, activations, softmax).
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: optimisedC),
        // libxml2 through pkg-config `libxml-2.0` (its headers' directory and the library).
        // Only CXMLReader's C code includes its headers: no Swift module imports it.
        .systemLibrary(
            name: "CLibXML2",
            path: "Sources/CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"]), .brew(["libxml2"])]
        ),
        // libxml2 behind an opaque C API: libxml2's headers pull in ICU, which clashes
        // with Foundation's ICU when both are imported by one Swift module.
        .target(
            name: "CXMLReader",
            dependencies: ["CLibXML2"],
            path: "Sources/CXMLReader",
            cSettings: [.unsafeFlags(["-O2"])]
        ),
        .target(
            name: "SeqModels",
            dependencies: [
                .target(name: "CBLAS", condition: .when(platforms: [.linux])),
                "CKernels",
            ]
        ),
        .target(name: "Corpus", dependencies: ["SeqModels", "CXMLReader"]),
        // The three task heads: tagger, classifier, generator (model, recipe, evaluation, prediction).
        .target(name: "Tasks", dependencies: ["SeqModels", "Corpus"]),
        // `seqmodels serve`: trained models behind an HTTP API and a web page (Hummingbird 2).
        .target(
            name: "Serving",
            dependencies: [
                "SeqModels", "Corpus", "Tasks",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // `seqmodels export --format onnx`: the three heads as ONNX graphs, written with
        // swift-protobuf from ONNX's own schema (Generated/onnx.pb.swift, made by
        // Tools/generate_onnx_swift.sh and committed).
        .target(
            name: "ONNXExport",
            dependencies: ["SeqModels", "Tasks", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/onnx.proto", "Generated/LICENSE-onnx.txt"]
        ),
        .executableTarget(
            name: "seqmodels",
            dependencies: [
                "SeqModels", "Corpus", "Tasks", "Serving", "ONNXExport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The parsers of untrusted bytes as fuzz targets (Tools/fuzz.sh builds seqmodels-fuzz with
        // libFuzzer and AddressSanitizer; FuzzRegressionTests replays the seeds and past findings).
        .target(name: "FuzzTargets", dependencies: ["SeqModels", "Corpus", "Tasks"]),
        .target(name: "CLibFuzzer", path: "Sources/CLibFuzzer"),
        .executableTarget(name: "seqmodels-fuzz", dependencies: ["FuzzTargets", "CLibFuzzer"]),
        // Finite-difference gradient checking and a process group of threads, shared by the test targets.
        .target(name: "GradientChecking", dependencies: ["SeqModels"], path: "Tests/GradientChecking"),
        .testTarget(
            name: "SeqModelsTests",
            dependencies: ["SeqModels", "GradientChecking"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TasksTests",
            dependencies: ["Tasks", "Corpus", "SeqModels", "GradientChecking"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "ServingTests",
            dependencies: [
                "Serving", "Tasks", "SeqModels",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "ONNXExportTests",
            dependencies: ["ONNXExport", "Tasks", "Corpus", "SeqModels", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The `seqmodels` binary run as a user runs it (error messages, exit statuses, input).
        .testTarget(
            name: "CommandLineTests",
            dependencies: ["seqmodels", "SeqModels"]
        ),
        .testTarget(
            name: "FuzzRegressionTests",
            dependencies: ["FuzzTargets"],
            path: "Tests/Fuzz",
            exclude: ["seeds", "findings", "dictionaries"]
        ),
        .testTarget(
            name: "CorpusTests",
            dependencies: ["Corpus", "SeqModels", "GradientChecking"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
