/// A problem with what a task was given (a model directory, an input line, a label),
/// explained for the person who gave it. Printed by the command-line tool as is.
public struct TaskError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
