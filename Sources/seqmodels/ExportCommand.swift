import ArgumentParser
import Foundation
import ONNXExport

/// `seqmodels export`: a trained model as an ONNX file for ONNX Runtime and other runtimes.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a trained tagger, classifier or generator as an ONNX model (opset \(ONNXVersions.opset)).",
        discussion: """
        Writes FILE.onnx and FILE.json beside it (vocabularies, labels or tags, tokenizer settings,
        input and output names; the same is in the model's metadata_props). Variable lengths are
        exported with ONNX's LSTM sequence_lens: no padding reaches the outputs.

          seqmodels export --model models/imdb --format onnx --output imdb.onnx
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case onnx
    }

    @Option(help: "Model directory written by `tag train`, `classify train` or `generate train`.")
    var model: String

    @Option(help: "Export format (onnx).")
    var format: Format = .onnx

    @Option(help: "File to write (FILE.json is written beside it).")
    var output: String

    func validate() throws {
        if !output.hasSuffix(".onnx") { throw ValidationError("--output should end in .onnx, got \(output)") }
    }

    func run() throws {
        let result = try ONNXExporter.export(modelDirectory: URL(fileURLWithPath: model), to: URL(fileURLWithPath: output),
                                             producerVersion: SeqModelsVersion.number)
        print("exported the \(result.task) in \(model) to \(result.model.path) (\(result.byteCount) bytes, opset \(ONNXVersions.opset)) "
              + "and \(result.sidecar.path)")
    }
}
