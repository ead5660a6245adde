import SeqModels

/// The generator's defaults fitted to a small text: what `generate train` trains with when the
/// user leaves the choices to it.
///
/// The defaults (`GeneratorRecipe()`, `GeneratorRecipe.defaultTrainerOptions`) aim at texts of a
/// megabyte: a tenth held out for validation, the learning rate halved when the validation loss
/// stops improving, chunks of 100 tokens carried from batch to batch. On a fable of 200 words
/// they fail: the tenth held out is a sentence, too few tokens to measure anything, so the
/// plateau schedule halves the learning rate on noise until training stalls, and the 32 lanes
/// of consecutive sampling are a few tokens each. For a text whose held-out part would hold
/// fewer than `minimumValidationTokens` tokens, the choices left to the defaults become:
/// - nothing held out: the whole text is trained on, and the model kept is the one with the
///   lowest training loss;
/// - a constant learning rate in place of the plateau schedule (there is nothing to measure);
/// - (stream records) sliding windows: chunks of at most `windowLength` tokens starting at
///   every token, each from a zero state, shuffled (random sampling, stride 1), so that the
///   model learns to continue the text from anywhere, as the classic sliding-window text
///   generators do. An epoch then holds about as many chunks as the text has tokens.
///
/// Every change is said in `notes`; a choice the user made (`Choices` not in `leftToDefaults`)
/// is never changed.
public struct SmallTextFit: Sendable {
    /// A held-out part of fewer tokens than this is too small to measure a loss on.
    public static let minimumValidationTokens = 1_000
    /// The longest chunk of the sliding windows of a small text.
    public static let windowLength = 32

    /// The choices of `generate train` that the user may leave to the defaults.
    public struct Choices: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// `--validation-fraction`.
        public static let validation = Choices(rawValue: 1 << 0)
        /// `--schedule` and its parameters.
        public static let schedule = Choices(rawValue: 1 << 1)
        /// `--sampling`, `--seq-length` and `--chunk-stride`, all three.
        public static let chunks = Choices(rawValue: 1 << 2)
        public static let all: Choices = [.validation, .schedule, .chunks]
    }

    /// The recipe to train with.
    public var recipe: GeneratorRecipe
    /// The trainer options to train with.
    public var options: TrainerOptions
    /// What was changed and why, a sentence each (empty when the text is not small).
    public var notes: [String] = []

    /// Fits `recipe` and `options` to `text`, changing only the choices in `leftToDefaults`.
    public init(recipe: GeneratorRecipe, options: TrainerOptions, text: String, leftToDefaults: Choices) {
        self.recipe = recipe
        self.options = options
        // Only a validation part left to the defaults can make a text small: otherwise the text
        // is not read at all (it is tokenised again by `GeneratorData`).
        guard leftToDefaults.contains(.validation), recipe.validationFraction > 0 else { return }
        let records = GeneratorData.records(of: text, level: recipe.level, mode: recipe.records)
        let heldOut = Self.heldOutTokens(records, mode: recipe.records, fraction: recipe.validationFraction)
        guard heldOut < Self.minimumValidationTokens else { return }
        let total = records.reduce(0) { $0 + $1.count }
        self.recipe.validationFraction = 0
        notes.append("the text has \(total) tokens: its last \(Int(recipe.validationFraction * 100))% (\(heldOut) tokens) "
                     + "would be too few to measure a validation loss on (at least \(Self.minimumValidationTokens)), "
                     + "so nothing is held out and the model kept is the one with the lowest training loss")
        if leftToDefaults.contains(.schedule), case .plateau = options.schedule {
            self.options.schedule = .constant
            notes.append("with no validation part the plateau schedule has nothing to measure: the learning rate stays constant")
        }
        if leftToDefaults.contains(.chunks), recipe.records == .stream {
            self.recipe.sampling = .random
            self.recipe.sequenceLength = min(recipe.sequenceLength, Self.windowLength)
            self.recipe.stride = 1
            notes.append("training on sliding windows of up to \(self.recipe.sequenceLength) tokens, one starting at every token, "
                         + "so that the model learns to continue the text from anywhere")
        }
    }

    /// Tokens of the part `GeneratorData` would hold out: the end of the stream, or the last records.
    static func heldOutTokens(_ records: [[String]], mode: RecordMode, fraction: Double) -> Int {
        switch mode {
        case .stream:
            return Int((Double(records.first?.count ?? 0) * fraction).rounded())
        case .lines:
            let count = Int((Double(records.count) * fraction).rounded())
            // Each held-out line also predicts its <eos>.
            return records.suffix(count).reduce(0) { $0 + $1.count + 1 }
        }
    }
}
