from rest_framework import serializers

from ..models import Campus, School, Student, User


class SchoolSerializer(serializers.ModelSerializer):
    district = serializers.CharField(source="district.name", read_only=True)
    campus_count = serializers.IntegerField(read_only=True)
    student_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = School
        fields = ["id", "code", "name", "stage", "district", "campus_count", "student_count"]


class CampusSerializer(serializers.ModelSerializer):
    school = serializers.CharField(source="school.name", read_only=True)

    class Meta:
        model = Campus
        fields = ["id", "code", "name", "school", "address"]


class StudentSerializer(serializers.ModelSerializer):
    school_class = serializers.CharField(source="school_class.name", read_only=True)
    grade = serializers.IntegerField(source="school_class.grade", read_only=True)
    campus = serializers.CharField(source="campus.code", read_only=True)

    class Meta:
        model = Student
        fields = ["id", "student_number", "name", "gender", "grade", "school_class", "campus", "status"]


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "city", "district", "school", "campus"]
