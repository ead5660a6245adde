import Foundation
import SeqModels
import Tasks

/// Exports a trained model directory (tagger, classifier or generator) as an ONNX model that
/// ONNX Runtime (or any ONNX runtime of opset 17) runs with no SeqModels code, plus a JSON
/// file beside it with everything needed to encode text the same way.
///
/// ```swift
/// let export = try ONNXExporter.export(modelDirectory: URL(fileURLWithPath: "models/imdb"),
///                                      to: URL(fileURLWithPath: "imdb.onnx"))
/// print(export.task, export.sidecar.path)   // classifier imdb.json
/// ```
///
/// Both files are written atomically (temporary file, then rename), so an interrupted export
/// never leaves a partial file under the final name. The same encoding information goes into
/// the model's `metadata_props` (keys starting `seqmodels.`, values JSON), so the `.onnx` file
/// alone is enough too.
public enum ONNXExporter {
    /// What was written.
    public struct Result: Equatable, Sendable {
        /// `tagger`, `classifier` or `generator`.
        public var task: String
        public var model: URL
        /// The JSON file beside the model (`NAME.json` for `NAME.onnx`).
        public var sidecar: URL
        /// Size of the `.onnx` file in bytes.
        public var byteCount: Int
    }

    /// Reads the model in `modelDirectory` and writes `output` and its JSON sidecar.
    /// - Throws: `ExportError` naming the directory when it holds no model this exporter knows,
    ///   or the loaders' errors for a damaged one; nothing is written then.
    @discardableResult
    public static func export(modelDirectory: URL, to output: URL, producerVersion: String = "") throws -> Result {
        let (task, builder, encoding) = try build(modelDirectory)
        let metadata = encoding.map { (key: "seqmodels." + $0.key, value: $0.value) }.sorted { $0.key < $1.key }
        let model = ONNXModel(graph: builder.graph, metadata: metadata,
                              documentation: "SeqModels \(task) exported from \(modelDirectory.lastPathComponent); "
                                  + "inputs and outputs are described on the graph and in the JSON file beside it",
                              producerVersion: producerVersion)
        let data = try model.serializedData()
        let sidecar = output.deletingPathExtension().appendingPathExtension("json")
        var sidecarObject: [String: Any] = ["format": "seqmodels-onnx", "task": task,
                                            "opset": ONNXVersions.opset, "model": output.lastPathComponent]
        for (key, value) in encoding {
            sidecarObject[key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: [.fragmentsAllowed])
        }
        let sidecarData = try JSONSerialization.data(withJSONObject: sidecarObject, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try Checkpoint.writeFileAtomically(data, to: output)
        try Checkpoint.writeFileAtomically(sidecarData + Data("\n".utf8), to: sidecar)
        return Result(task: task, model: output, sidecar: sidecar, byteCount: data.count)
    }

    /// The model's kind from its `config.json`.
    static func kind(of directory: URL) throws -> String {
        let path = directory.appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ExportError("\(directory.path) is not a model directory (no config.json)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ExportError("\(path) is not a JSON object")
        }
        if object["kind"] as? String == ClassifierConfiguration.kindName { return "classifier" }
        if object["task"] as? String == TaggerConfiguration.taskName { return "tagger" }
        if object["level"] != nil && object["records"] != nil && object["vocabularySize"] != nil { return "generator" }
        throw ExportError("\(directory.path) holds no tagger, classifier or generator that this version can export "
                          + "(its config.json names none of them)")
    }

    /// The task, its graph and the encoding information (JSON values by key).
    static func build(_ directory: URL) throws -> (String, GraphBuilder, [String: String]) {
        func json<T: Encodable>(_ value: T) throws -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        switch try kind(of: directory) {
        case "classifier":
            let classifier = try TrainedClassifier.load(from: directory)
            var encoding = [
                "vocabulary": try json(classifier.vocabulary.tokens),
                "labels": try json(classifier.labels),
                "text_preparation": try json(classifier.preparation),
                "unknown_id": try json(classifier.vocabulary.unknownID),
                "tokenizer": try json(tokenizerDescription(classifier.preparation.tokenizer)),
                "inputs": try json(["token_ids", "lengths"] + (classifier.ngramFeatures == nil ? [] : ["ngram_ids"])),
                "outputs": try json(["logits", "probabilities"]),
            ]
            if let features = classifier.ngramFeatures {
                encoding["ngrams"] = try json(features.vocabulary.tokens)
                encoding["ngram_order"] = try json(features.settings.order)
                encoding["ngram_padding_id"] = try json(features.count)
                encoding["ngram_spelling"] = try json("the n-gram's tokens joined by one space; a text's distinct known n-grams of 1 to ngram_order tokens")
            }
            return ("classifier", try ClassifierExport.graph(classifier), encoding)
        case "tagger":
            let tagger = try Tagger.load(from: directory)
            let languageModelInputs = tagger.contextualEmbeddings.indices.flatMap { ["lm\($0)_char_ids", "lm\($0)_lengths", "lm\($0)_positions"] }
            var encoding = [
                "words": try json(tagger.vocabularies.words.tokens),
                "characters": try json(tagger.vocabularies.characters.tokens),
                "tags": try json(tagger.vocabularies.tags.tokens),
                "unknown_word_id": try json(tagger.vocabularies.words.unknownID),
                "unknown_character_id": try json(tagger.vocabularies.characters.unknownID),
                "max_word_length": try json(tagger.configuration.maxWordLength),
                "long_words": try json("a word longer than max_word_length keeps its first max_word_length/2 (rounded down) and its last characters"),
                "output_layer": try json(tagger.crf == nil ? "softmax" : "crf"),
                "inputs": try json(["word_ids", "char_ids", "char_lengths", "lengths"] + languageModelInputs),
                "outputs": try json(tagger.crf == nil ? ["scores", "probabilities", "tag_ids"]
                                    : ["scores", "transitions", "start_transitions", "end_transitions"]),
            ]
            if !tagger.contextualEmbeddings.isEmpty {
                struct LanguageModelEncoding: Encodable {
                    var inputs: [String], direction: String, vocabulary: [String], unknownID: Int?, reading: String
                    enum CodingKeys: String, CodingKey { case inputs, direction, vocabulary, unknownID = "unknown_id", reading }
                }
                encoding["character_language_models"] = try json(tagger.contextualEmbeddings.enumerated().map { index, embeddings in
                    LanguageModelEncoding(
                        inputs: ["lm\(index)_char_ids", "lm\(index)_lengths", "lm\(index)_positions"],
                        direction: embeddings.direction.rawValue, vocabulary: embeddings.languageModel.vocabulary.tokens,
                        unknownID: embeddings.languageModel.vocabulary.unknownID,
                        reading: embeddings.direction == .forward
                            ? "the characters of \"\\n\" + tokens joined by single spaces + \" \"; a token's position is the index of the space after it"
                            : "the same text with the token order and each token's characters reversed; a token's position is the index of the space after its reversed spelling")
                })
            }
            return ("tagger", try TaggerExport.graph(tagger), encoding)
        default:
            let generator = try GeneratorModel.load(from: directory)
            let configuration = generator.configuration
            let encoding = [
                "vocabulary": try json(generator.vocabulary.tokens),
                "level": try json(configuration.level.rawValue),
                "records": try json(configuration.records.rawValue),
                "special_ids": try json(["unk": generator.vocabulary.unknownID, "bos": generator.vocabulary.beginID,
                                         "eos": generator.vocabulary.endID]),
                "layers": try json(configuration.layerCount),
                "hidden_size": try json(configuration.hiddenSize),
                "softmax": try json(configuration.adaptiveCutoffs == nil ? "full" : "adaptive"),
                "inputs": try json(["token_ids", "lengths", "h0", "c0"]),
                "outputs": try json(["log_probabilities", "hn", "cn"]),
            ]
            return ("generator", try GeneratorExport.graph(generator), encoding)
        }
    }

    /// How a classifier's tokenizer splits text, in words a programmer of another language can follow.
    static func tokenizerDescription(_ kind: TextPreparation.TokenizerKind) -> String {
        switch kind {
        case .words: return "words: lowercased; runs of letters and digits (with inner apostrophes and hyphens) and single punctuation marks; CJK ideographs one by one"
        case .casedWords: return "cased-words: as words without lowercasing"
        case .characters: return "characters: one token per character, whitespace dropped"
        case .whitespace: return "whitespace: tokens separated by whitespace, as given"
        }
    }
}
