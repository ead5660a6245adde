import Foundation
import SeqModels

/// How this process was started: alone, or as one rank of an Open MPI job (`mpirun -np N
/// seqmodels …`), in which case `group` holds the job's processes for the commands that
/// share their work (every `train`, and labelling an `--input` file with `classify` or `tag`).
///
/// `main` joins the job before the command runs and binds the group for the command's run
/// (a task-local value, not a global variable); `Launch.group` reads it.
enum Launch {
    @TaskLocal static var group: MPIProcessGroup?

    /// `group` when it has more than one process.
    static var sharedGroup: MPIProcessGroup? { group.flatMap { $0.size > 1 ? $0 : nil } }

    /// Whether this process prints results and writes files: alone, or rank 0.
    static var isLeader: Bool { group?.isLeader ?? true }

    /// Joins the MPI job when `mpirun` started this process (see `MPIProcessGroup` for why
    /// Open MPI is loaded at run time), or `nil` when it runs alone.
    static func joinMPIJobIfLaunched() throws -> MPIProcessGroup? {
        guard MPIProcessGroup.launchedByMPI() else { return nil }
        return try MPIProcessGroup()
    }
}

/// A command whose processes share its work under `mpirun` (every `train`, and labelling an
/// `--input` file). Any other command runs in rank 0 alone while the others wait in `MPI_Finalize`.
protocol SharesWorkAcrossProcesses {
    /// Whether this invocation shares its work (labelling shares an `--input` file, not arguments).
    var sharesWork: Bool { get }
}

extension TagTrainCommand: SharesWorkAcrossProcesses { var sharesWork: Bool { true } }
extension ClassifyTrainCommand: SharesWorkAcrossProcesses { var sharesWork: Bool { true } }
extension GenerateTrainCommand: SharesWorkAcrossProcesses { var sharesWork: Bool { true } }
extension LanguageModelPretrainCommand: SharesWorkAcrossProcesses { var sharesWork: Bool { true } }
extension TagTextCommand: SharesWorkAcrossProcesses { var sharesWork: Bool { text.isEmpty && input != nil && input != "-" } }
extension ClassifyPredictCommand: SharesWorkAcrossProcesses { var sharesWork: Bool { input != nil && input != "-" } }
