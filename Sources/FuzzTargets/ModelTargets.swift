import Foundation
import SeqModels
import Corpus
import Tasks

/// What SeqModels reads back of its own files, which users also download and exchange:
/// safetensors files, model directories (config, vocabularies, labels, tag sets, weights)
/// and the resume state of an interrupted run.
enum ModelTargets {
    static let all: [FuzzTarget] = [safetensors, modelDirectory, resumeState]

    private static let scratch = ScratchDirectory("models")

    // MARK: safetensors

    /// A safetensors file (header length, JSON header, offsets, dtypes, shapes, metadata) and
    /// every tensor in it as floats and as 64-bit integers. Property: a file that parses
    /// serialises to bytes that parse to the same names, shapes, dtypes and metadata.
    static let safetensors = FuzzTarget(
        name: "safetensors",
        summary: "safetensors files: header, offsets, dtypes, shapes, metadata; every tensor read back"
    ) { input in
        let file = try SafeTensors(data: Data(input.whole), source: "fuzz.safetensors")
        for name in file.names {
            _ = try? file.floatTensor(name)
            _ = try? file.int64Array(name)
        }
        let again = try SafeTensors(data: file.serialized(), source: "serialized")
        guard again.names == file.names, again.shapes == file.shapes, again.metadata == file.metadata,
              file.names.allSatisfy({ again.dtype(of: $0) == file.dtype(of: $0) }) else {
            throw FuzzPropertyFailure("a parsed file serialised to one that parses differently")
        }
    }

    // MARK: Model directories

    /// A model directory of each head with one of its files replaced by the input, loaded
    /// and, when it loads, used (a sample, a classification, a tagged sentence). Options:
    /// bits 0–1 the head (generator, classifier, tagger), bits 2–4 which of its files.
    static let modelDirectory = FuzzTarget(
        name: "model-directory",
        summary: "model directories of the three heads (config.json, vocabularies, labels, tags, weights), loaded and used",
        seeds: {
            let fixtures = try ModelFixtures.shared.get()
            return try ModelFixtures.Head.allCases.enumerated().flatMap { headIndex, head in
                try head.files.enumerated().map { fileIndex, file in
                    [UInt8(headIndex | fileIndex << 2)] + (try fixtures.contents(of: file, in: head))
                }
            }
        }
    ) { input in
        let fixtures = try ModelFixtures.shared.get()
        let head = ModelFixtures.Head.allCases[input.bits(0, count: 2) % ModelFixtures.Head.allCases.count]
        let files = head.files
        let replaced = files[input.bits(2, count: 3) % files.count]
        let directory = scratch.url.appendingPathComponent("model", isDirectory: true)
        try fixtures.copy(head, files: files, to: directory)
        try Data(input.body).write(to: directory.appendingPathComponent(replaced))
        switch head {
        case .generator:
            let model = try GeneratorModel.load(from: directory)
            var generator = SeededGenerator(seed: 1)
            _ = try model.sample(prefix: "the", length: 8, options: SamplingOptions(temperature: 0.8, topK: 3), generator: &generator)
            _ = try model.evaluate(text: "the cat sat on the mat", lanes: 2)
        case .classifier:
            let classifier = try TrainedClassifier.load(from: directory)
            _ = try classifier.classify(["a fine film", "dull dull dull"])
            guard (try? classifier.classify([""])) == nil else { throw FuzzPropertyFailure("an empty text was classified") }
        case .tagger:
            let tagger = try Tagger.load(from: directory)
            _ = tagger.tag(sentences: [["The", "cat", "sat"], ["Dogs", "bark", "."]])
        }
    }

    // MARK: Resume state

    /// The resume state of a generator run (`resume/state.json` and the files it names) with
    /// one file replaced by the input, then `generate train --resume` for one more epoch.
    /// Options: bits 0–2 which file.
    static let resumeState = FuzzTarget(
        name: "resume-state",
        summary: "the resume state of an interrupted run (state.json, optimizer and parameter files), resumed for an epoch",
        seeds: {
            let fixtures = try ModelFixtures.shared.get()
            return try fixtures.resumeFiles.enumerated().map { index, file in
                [UInt8(index)] + (try fixtures.contents(of: "resume/" + file, in: .generator))
            }
        }
    ) { input in
        let fixtures = try ModelFixtures.shared.get()
        let directory = scratch.url.appendingPathComponent("run", isDirectory: true)
        try fixtures.copy(.generator, to: directory)
        let resumeFiles = fixtures.resumeFiles
        let replaced = resumeFiles[input.bits(0, count: 3) % resumeFiles.count]
        try Data(input.body).write(to: directory.appendingPathComponent("resume").appendingPathComponent(replaced))
        var options = ModelFixtures.generatorOptions
        options.epochs += 1
        _ = try GeneratorTraining.train(text: ModelFixtures.generatorText, recipe: ModelFixtures.generatorRecipe,
                                        options: options, directory: directory, resume: true)
    }
}

/// Tiny models of the three heads, made once per process in a scratch directory: the
/// pristine copies the model targets start every run from.
struct ModelFixtures: Sendable {
    /// The three heads.
    enum Head: String, CaseIterable, Sendable {
        case generator, classifier, tagger

        /// The files a head's `load(from:)` reads.
        var files: [String] {
            switch self {
            case .generator: return ["config.json", "vocabulary.json", "model.safetensors"]
            case .classifier: return ["config.json", "vocabulary.json", "labels.json", "ngrams.json", "model.safetensors"]
            case .tagger: return ["config.json", "words.json", "characters.json", "tags.json", "model.safetensors"]
            }
        }
    }

    let root: URL
    /// The files of the generator's `resume/` directory, sorted.
    let resumeFiles: [String]

    static let generatorText = "the cat sat on the mat. the dog sat on the log. a cat and a dog.\n"
    static let generatorRecipe = GeneratorRecipe(embeddingSize: 3, hiddenSize: 4, layerCount: 1, sequenceLength: 8,
                                                 validationFraction: 0.25)
    static let generatorOptions = TrainerOptions(epochs: 1, batchSize: 2, learningRate: 1e-2, seed: 3)

    /// Made on first use; a failure (a full disk, say) is reported by every run that needs them.
    static let shared = Result { try ModelFixtures() }

    private init() throws {
        root = ScratchDirectory("fixtures").url

        let generatorDirectory = root.appendingPathComponent(Head.generator.rawValue, isDirectory: true)
        _ = try GeneratorTraining.train(text: Self.generatorText, recipe: Self.generatorRecipe, options: Self.generatorOptions,
                                        directory: generatorDirectory)
        resumeFiles = try FileManager.default.contentsOfDirectory(atPath: generatorDirectory.appendingPathComponent("resume").path).sorted()

        var hyperparameters = ClassifierHyperparameters()
        hyperparameters.embeddingDimension = 4
        hyperparameters.hiddenSize = 3
        hyperparameters.minFrequency = 1
        let reviews = [LabelledText(text: "a fine film", label: "pos"), LabelledText(text: "a dull film", label: "neg"),
                       LabelledText(text: "fine acting", label: "pos")]
        try ClassifierRecipe.prepare(training: reviews, development: [], hyperparameters: hyperparameters, seed: 1)
            .classifier.save(to: directory(.classifier))

        var configuration = TaggerConfiguration()
        configuration.wordEmbeddingSize = 4
        configuration.characterEmbeddingSize = 3
        configuration.characterHiddenSize = 3
        configuration.hiddenSize = 4
        configuration.layerCount = 1
        let sentences = [TaggedSentence(tokens: ["The", "cat", "sat", "."], tags: ["DET", "NOUN", "VERB", "PUNCT"]),
                         TaggedSentence(tokens: ["Dogs", "bark"], tags: ["NOUN", "VERB"])]
        var generator = SeededGenerator(seed: 1)
        try Tagger(configuration: configuration, training: sentences, generator: &generator).save(to: directory(.tagger))
    }

    private func directory(_ head: Head) -> URL {
        root.appendingPathComponent(head.rawValue, isDirectory: true)
    }

    /// The bytes of `file` (a path inside the directory) of `head`'s pristine directory.
    func contents(of file: String, in head: Head) throws -> [UInt8] {
        Array(try Data(contentsOf: directory(head).appendingPathComponent(file)))
    }

    /// Replaces `destination` by a copy of `head`'s pristine directory, or of only `files` of it
    /// (what loading reads: the run and resume files need no copy every run).
    func copy(_ head: Head, files: [String]? = nil, to destination: URL) throws {
        try? FileManager.default.removeItem(at: destination)
        guard let files else { return try FileManager.default.copyItem(at: directory(head), to: destination) }
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        for file in files {
            try FileManager.default.copyItem(at: directory(head).appendingPathComponent(file),
                                             to: destination.appendingPathComponent(file))
        }
    }
}
