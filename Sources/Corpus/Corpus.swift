import SeqModels
