module github.com/medic/medic-go

go 1.19
