/// Hidden and cell states of a (possibly stacked, bidirectional) LSTM.
///
/// Both tensors have PyTorch's shape `[directions * layers, batch, hidden]`; slice
/// `layer * directions + direction` belongs to that layer and direction (direction 1
/// is the reverse one). The batch dimension is in the *original* batch order of the
/// packed input, whatever its sorting.
public struct LSTMState: Equatable, Sendable {
    public var hidden: Tensor
    public var cell: Tensor

    public init(hidden: Tensor, cell: Tensor) {
        precondition(hidden.rank == 3 && hidden.shape == cell.shape,
                     "LSTM states must both be [directions*layers, batch, hidden], got \(hidden.shape) and \(cell.shape)")
        self.hidden = hidden
        self.cell = cell
    }

    /// All-zero states.
    public static func zeros(slices: Int, batch: Int, hidden: Int) -> LSTMState {
        LSTMState(hidden: Tensor(shape: [slices, batch, hidden]), cell: Tensor(shape: [slices, batch, hidden]))
    }
}

/// A multi-layer, optionally bidirectional LSTM with PyTorch's `nn.LSTM` semantics.
///
/// Gates are laid out i, f, g, o; `c' = f⊙c + i⊙g`, `h' = o⊙tanh(c')`. Parameters are
/// named as in `nn.LSTM.state_dict()`: `weight_ih_l{k}` `[4H, I]` (I = input size for
/// layer 0, `directions * H` above), `weight_hh_l{k}` `[4H, H]`, `bias_ih_l{k}` and
/// `bias_hh_l{k}` `[4H]`, with suffix `_reverse` for the backward direction.
///
/// Input and output are `PackedSequence`s: output rows are `[rows, directions * H]`,
/// the forward direction in the first H columns. The reverse direction starts each
/// sequence at its own last token, so padding costs nothing. `forward` caches what
/// `backward` needs in an `LSTM.Cache` value; `backward` accumulates parameter
/// gradients and returns the gradients of the input and of the initial state.
public struct LSTM: ParameterContainer, Sendable {
    /// The shape of an LSTM, as recorded in model configs.
    public struct Configuration: Codable, Equatable, Sendable {
        public var inputSize: Int
        public var hiddenSize: Int
        public var layerCount: Int
        public var bidirectional: Bool
        /// Dropout probability applied to the outputs of every layer but the last (training only).
        public var dropout: Float

        public init(inputSize: Int, hiddenSize: Int, layerCount: Int = 1, bidirectional: Bool = false, dropout: Float = 0) {
            precondition(inputSize > 0 && hiddenSize > 0 && layerCount > 0, "LSTM sizes must be positive")
            precondition(dropout >= 0 && dropout < 1, "LSTM dropout must be in [0, 1)")
            self.inputSize = inputSize
            self.hiddenSize = hiddenSize
            self.layerCount = layerCount
            self.bidirectional = bidirectional
            self.dropout = dropout
        }

        public var directionCount: Int { bidirectional ? 2 : 1 }
        /// Width of the output rows: `directions * hiddenSize`.
        public var outputSize: Int { directionCount * hiddenSize }
    }

    public let configuration: Configuration
    // Placeholder: the implementation lands in the next commit.
    public init(_ configuration: Configuration, generator: inout SeededGenerator) {
        self.configuration = configuration
    }
    public mutating func visitParameters(prefix: String, _ visit: (String, inout Parameter) throws -> Void) rethrows {}
}
