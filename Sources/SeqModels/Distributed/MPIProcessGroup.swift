import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The processes started together by Open MPI's `mpirun` (`MPI_COMM_WORLD`), reached through
/// the Open MPI library loaded when the program runs.
///
/// **Why loaded at run time.** SeqModels builds and runs without MPI; the same `seqmodels`
/// binary, once Open MPI is installed (`bash Tools/install-dependencies.sh --mpi`), runs under
/// `mpirun` with no rebuild. So nothing of MPI is linked: `launchedByMPI()` looks for the
/// variables `mpirun` sets (`OMPI_COMM_WORLD_SIZE`), and only then `dlopen`s `libmpi.so.40`
/// (the ABI of every Open MPI since 3.0) and looks up the dozen functions and handles used
/// here. The handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`…) are, in Open MPI's ABI, the
/// addresses of its predefined objects, so `dlsym` gives them directly. MPICH's ABI differs
/// (integer handles) and is not supported.
///
/// The library is initialised with `MPI_THREAD_FUNNELED`: only the thread that created the
/// group calls MPI (BLAS's threads never do). MPI's default error handler ends the whole job
/// on a communication failure, as a lost peer should.
///
/// `reduction` chooses how `sum` adds: `.library` is Open MPI's `MPI_Allreduce` (a ring or a
/// tree, whose order of additions depends on the algorithm it picks); `.ordered` gathers
/// every process's values (`MPI_Allgather`) and adds them in rank order on each process, so
/// that the result does not depend on the library's choice, at `size` times the memory.
public final class MPIProcessGroup: ProcessGroup, @unchecked Sendable {
    /// How `sum` combines values.
    public enum Reduction: String, Sendable, CaseIterable {
        case library, ordered
    }

    public let rank: Int
    public let size: Int
    public let reduction: Reduction
    private let api: API

    /// Whether this process was started by Open MPI's `mpirun` (or `mpiexec`).
    public static func launchedByMPI(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["OMPI_COMM_WORLD_SIZE"] != nil
    }

    /// Loads Open MPI and joins `MPI_COMM_WORLD`. Call once per process, from the thread that
    /// will make every later call; `finish()` before the process ends.
    /// - Throws: `ProcessGroupError` when the library cannot be loaded (with what to install).
    public convenience init(reduction: Reduction = .library) throws {
        let api = try API.load()
        var provided: Int32 = 0
        try api.check(api.initThread(nil, nil, API.threadFunneled, &provided), "MPI_Init_thread")
        var rank: Int32 = 0, size: Int32 = 0
        try api.check(api.commRank(api.world, &rank), "MPI_Comm_rank")
        try api.check(api.commSize(api.world, &size), "MPI_Comm_size")
        self.init(api: api, rank: Int(rank), size: Int(size), reduction: reduction)
    }

    private init(api: API, rank: Int, size: Int, reduction: Reduction) {
        self.api = api
        self.rank = rank
        self.size = size
        self.reduction = reduction
    }

    /// The same processes, adding as `reduction` says (MPI is not initialised again).
    public func with(reduction: Reduction) -> MPIProcessGroup {
        MPIProcessGroup(api: api, rank: rank, size: size, reduction: reduction)
    }

    public func sum(_ values: inout [Float]) throws {
        try reduce(&values, type: api.float)
    }

    public func sum(_ values: inout [Double]) throws {
        try reduce(&values, type: api.double)
    }

    private func reduce<Element: BinaryFloatingPoint>(_ values: inout [Element], type: OpaquePointer) throws {
        guard size > 1, !values.isEmpty else { return }
        let count = try Self.count(values.count)
        switch reduction {
        case .library:
            try values.withUnsafeMutableBytes { buffer in
                try api.check(api.allreduce(API.inPlace, buffer.baseAddress, count, type, api.sumOperation, api.world), "MPI_Allreduce")
            }
        case .ordered:
            var all = [Element](repeating: 0, count: values.count * size)
            try values.withUnsafeBytes { mine in
                try all.withUnsafeMutableBytes { gathered in
                    try api.check(api.allgather(mine.baseAddress, count, type, gathered.baseAddress, count, type, api.world),
                                  "MPI_Allgather")
                }
            }
            for index in values.indices {
                var total: Element = 0
                for part in 0..<size { total += all[part * values.count + index] }
                values[index] = total
            }
        }
    }

    public func gather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard size > 1 else { return [bytes] }
        let lengths = try gather(bytes.count)
        let counts = try lengths.map { try Self.count($0) }
        var displacements: [Int32] = [0]
        for count in counts.dropLast() { displacements.append(displacements.last! + count) }
        guard lengths.reduce(0, +) < Int(Int32.max) else {
            throw ProcessGroupError("cannot gather \(lengths.reduce(0, +)) bytes at once (MPI counts stop at 2 GiB)")
        }
        var all = [UInt8](repeating: 0, count: lengths.reduce(0, +))
        try bytes.withUnsafeBytes { mine in
            try all.withUnsafeMutableBytes { gathered in
                try api.check(api.allgatherv(mine.baseAddress, counts[rank], api.byte, gathered.baseAddress, counts, displacements,
                                             api.byte, api.world), "MPI_Allgatherv")
            }
        }
        return (0..<size).map { Array(all[Int(displacements[$0])..<(Int(displacements[$0]) + lengths[$0])]) }
    }

    public func gatherToLeader(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard size > 1 else { return [bytes] }
        var mine = try Self.count(bytes.count)
        var counts = [Int32](repeating: 0, count: size)
        try counts.withUnsafeMutableBytes { all in
            try api.check(api.gather(&mine, 1, api.int32, all.baseAddress, 1, api.int32, 0, api.world), "MPI_Gather")
        }
        var displacements: [Int32] = [0]
        for count in counts.dropLast() {
            guard Int(displacements.last!) + Int(count) < Int(Int32.max) else {
                throw ProcessGroupError("cannot gather more than 2 GiB at once")
            }
            displacements.append(displacements.last! + count)
        }
        var all = [UInt8](repeating: 0, count: isLeader ? counts.reduce(0) { $0 + Int($1) } : 0)
        try bytes.withUnsafeBytes { sent in
            try all.withUnsafeMutableBytes { gathered in
                try api.check(api.gatherv(sent.baseAddress, mine, api.byte, gathered.baseAddress, counts, displacements,
                                          api.byte, 0, api.world), "MPI_Gatherv")
            }
        }
        guard isLeader else { return [] }
        return (0..<size).map { Array(all[Int(displacements[$0])..<(Int(displacements[$0]) + Int(counts[$0]))]) }
    }

    public func barrier() throws {
        try api.check(api.barrier(api.world), "MPI_Barrier")
    }

    /// Ends every process of the job with `status` (after this one has said why): what a
    /// process that cannot go on must do, since the others would wait for it forever.
    public func abort(status: Int32) -> Never {
        _ = api.abort(api.world, status)
        exit(status)
    }

    /// Leaves MPI (`MPI_Finalize`); the group must not be used afterwards.
    public func finish() {
        _ = api.finalize()
    }

    private static func count(_ count: Int) throws -> Int32 {
        guard count <= Int(Int32.max) else { throw ProcessGroupError("\(count) elements exceed one MPI call's count") }
        return Int32(count)
    }

    /// The functions and handles of Open MPI's ABI, looked up once.
    private struct API {
        typealias Handle = OpaquePointer
        static let threadFunneled: Int32 = 1
        static var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }   // MPI_IN_PLACE

        typealias InitThread = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<Int32>) -> Int32
        typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
        typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
        typealias Allgather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
        typealias Allgatherv = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, UnsafePointer<Int32>,
                                               UnsafePointer<Int32>, Handle, Handle) -> Int32
        typealias Gather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Int32,
                                           Handle) -> Int32
        typealias Gatherv = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, UnsafePointer<Int32>,
                                            UnsafePointer<Int32>, Handle, Int32, Handle) -> Int32
        typealias Barrier = @convention(c) (Handle) -> Int32
        typealias Abort = @convention(c) (Handle, Int32) -> Int32
        typealias Finalize = @convention(c) () -> Int32
        typealias ErrorString = @convention(c) (Int32, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int32>) -> Int32

        let initThread: InitThread
        let commRank: CommQuery
        let commSize: CommQuery
        let allreduce: Allreduce
        let allgather: Allgather
        let allgatherv: Allgatherv
        let gather: Gather
        let gatherv: Gatherv
        let barrier: Barrier
        let abort: Abort
        let finalize: Finalize
        let errorString: ErrorString
        let world: Handle
        let float: Handle
        let double: Handle
        let byte: Handle
        let int32: Handle
        let sumOperation: Handle

        #if os(macOS)
        static let libraryNames = ["libmpi.40.dylib", "libmpi.dylib", "/opt/homebrew/lib/libmpi.dylib", "/usr/local/lib/libmpi.dylib"]
        #else
        static let libraryNames = ["libmpi.so.40", "libmpi.so"]
        #endif

        static func load() throws -> API {
            // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) resolve their symbols against it.
            guard let library = libraryNames.lazy.compactMap({ dlopen($0, RTLD_NOW | RTLD_GLOBAL) }).first else {
                throw ProcessGroupError("started by mpirun, but the Open MPI library (\(libraryNames.joined(separator: " or "))) "
                                        + "cannot be loaded: install Open MPI (bash Tools/install-dependencies.sh --mpi)")
            }
            func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
                guard let address = dlsym(library, name) else {
                    throw ProcessGroupError("the MPI library has no \(name): SeqModels needs Open MPI 3.0 or later (libmpi.so.40)")
                }
                return address
            }
            func function<F>(_ name: String, as type: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: type) }
            return API(
                initThread: try function("MPI_Init_thread", as: InitThread.self),
                commRank: try function("MPI_Comm_rank", as: CommQuery.self),
                commSize: try function("MPI_Comm_size", as: CommQuery.self),
                allreduce: try function("MPI_Allreduce", as: Allreduce.self),
                allgather: try function("MPI_Allgather", as: Allgather.self),
                allgatherv: try function("MPI_Allgatherv", as: Allgatherv.self),
                gather: try function("MPI_Gather", as: Gather.self),
                gatherv: try function("MPI_Gatherv", as: Gatherv.self),
                barrier: try function("MPI_Barrier", as: Barrier.self),
                abort: try function("MPI_Abort", as: Abort.self),
                finalize: try function("MPI_Finalize", as: Finalize.self),
                errorString: try function("MPI_Error_string", as: ErrorString.self),
                world: OpaquePointer(try symbol("ompi_mpi_comm_world")),
                float: OpaquePointer(try symbol("ompi_mpi_float")),
                double: OpaquePointer(try symbol("ompi_mpi_double")),
                byte: OpaquePointer(try symbol("ompi_mpi_byte")),
                int32: OpaquePointer(try symbol("ompi_mpi_int32_t")),
                sumOperation: OpaquePointer(try symbol("ompi_mpi_op_sum")))
        }

        /// Throws naming `call` and MPI's own words when `code` is not `MPI_SUCCESS` (0).
        func check(_ code: Int32, _ call: String) throws {
            guard code != 0 else { return }
            var text = [CChar](repeating: 0, count: 512)
            var length: Int32 = 0
            _ = errorString(code, &text, &length)
            let words = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ProcessGroupError("\(call) failed: \(words) (code \(code))")
        }
    }
}
